//! Benchmarks, run by `make bench` (ignored by `make test`): they time, they do not assert
//! speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use std::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{WsClient, ws_handshake};
use crate::process::Process;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One event to N subscribers on one node: a comment posted over HTTP to the release
/// binary, delivered to N WebSocket connections subscribed to `commentAdded` (through
/// Redis, re-read once per event for all subscribers). Latency runs from sending the
/// mutation to each subscriber receiving the comment. Also the server's memory per idle
/// subscriber: its RSS before and after the N connections subscribe. `SUBSCRIBERS`
/// (default 10,000) and `EVENTS` (default 20) size it; `make bench` raises the open-file
/// limit for it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench"]
async fn bench_event_fanout_to_subscribers() {
    let subscribers: usize = env_or("SUBSCRIBERS", 10_000);
    let events: usize = env_or("EVENTS", 20);
    let database = crate::helpers::fresh_database().await;
    let server = Server::start(
        &format!("{}?sslmode=disable", crate::helpers::pg_url(&database)),
        "fanout",
    )
    .await;
    let client = reqwest::Client::new();
    let call = |token: Option<&str>, query: &str, variables: Value| {
        let mut request = client
            .post(server.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let token = call(None, "mutation { register(input: { username: \"bench\", email: \"bench@example.com\", password: \"correct horse battery\" }) { userErrors { field message code } token } }", json!({})).await["register"]["token"].as_str().unwrap().to_owned();
    // Confirmed, as the mail would: members publish once their address is confirmed.
    {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(&crate::helpers::pg_url(&database))
            .await
            .unwrap();
        sqlx::query("UPDATE users SET email_confirmed_at = now()")
            .execute(&mut db)
            .await
            .unwrap();
    }
    let article = call(Some(&token), "mutation { createArticle(input: { title: \"Bench\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].as_str().unwrap().to_owned();
    let query =
        format!("subscription {{ commentAdded(articleId: \"{article}\") {{ id bodyMarkdown }} }}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_mb();

    let received: Arc<Mutex<Vec<(usize, Instant)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(subscribers * events)));
    let mut readers = Vec::new();
    let opened = Instant::now();
    let ws_url = server.url("/graphql/ws").replacen("http", "ws", 1);
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(200) {
        let clients = futures_util::future::join_all(chunk.iter().map(|_| async {
            let (socket, _) = ws_handshake(&ws_url, "graphql-transport-ws", None)
                .await
                .unwrap();
            let mut ws = WsClient {
                socket,
                protocol: "graphql-transport-ws".into(),
            };
            ws.send(json!({ "type": "connection_init", "payload": {} }))
                .await;
            assert_eq!(ws.next_json().await["type"], "connection_ack");
            ws.subscribe("c", &query).await;
            ws
        }))
        .await;
        for ws in clients {
            let received = received.clone();
            readers.push(tokio::spawn(async move {
                let mut socket = ws.socket;
                while let Some(Ok(message)) = socket.next().await {
                    // The event's number, found without parsing the whole message: the
                    // client's own work is not what is measured.
                    if let Message::Text(text) = message
                        && let Some(at) = text.find("Event ")
                    {
                        let now = Instant::now();
                        let n: usize = text[at + 6..]
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                            .parse()
                            .unwrap_or(usize::MAX);
                        received.lock().unwrap().push((n, now));
                    }
                }
            }));
        }
    }
    eprintln!(
        "{subscribers} subscribers connected in {:.2}s",
        opened.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let subscribed_rss = server.rss_mb();
    eprintln!(
        "server RSS: {idle_rss:.1} MB before the subscribers, {subscribed_rss:.1} MB with {subscribers} idle: {:.1} KB each",
        (subscribed_rss - idle_rss) * 1024.0 / subscribers as f64
    );

    let mut sent = Vec::new();
    for n in 0..events {
        let started = Instant::now();
        call(Some(&token), "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }", json!({ "a": article, "b": format!("Event {n}") })).await;
        sent.push(started);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = received.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(n, at)| sent.get(*n).map(|s| at.duration_since(*s)))
        .collect();
    latencies.sort();
    let expected = subscribers * events;
    eprintln!(
        "fan-out: {} of {expected} deliveries; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server RSS after {:.1} MB",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        server.rss_mb(),
    );
    for reader in readers {
        reader.abort();
    }
    drop(server);
    crate::helpers::drop_database(database);
    assert_eq!(
        latencies.len(),
        expected,
        "every subscriber got every event"
    );
}

// ------------------------------------------------------------------ HTTP scenarios

const FEED: &str = "query HomeFeed { feed(type: LATEST, first: 20) { edges { node { id title slug publishedAt readingTimeMinutes commentsCount reactionsCount author { username name } tags { name } reactionCounts { category count } } } } }";
const SIGNED_IN_FEED: &str = "query HomeFeed { feed(type: RELEVANT, first: 20) { edges { node { id title slug publishedAt readingTimeMinutes commentsCount reactionsCount viewerReactions author { username name viewerIsFollowing } tags { name viewerIsFollowing } reactionCounts { category count } } } } }";
const ARTICLE: &str = "query ArticlePage($id: ID!) { node(id: $id) { ... on Article { title bodyHtml author { username name } tags { name } reactionCounts { category count } comments(first: 50) { edges { node { id bodyHtml createdAt author { username name } } } } } } }";
const SEARCH: &str = "query Search($q: String!) { search(query: $q, first: 20) { edges { node { rank highlight node { __typename ... on Article { title author { username } } ... on User { username } ... on Tag { name } } } } } }";
const COMMENT: &str = "mutation Comment($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The release binary `make bench` built, run as operators run it.
struct Server {
    process: Process,
}

impl Server {
    /// Starts the binary on `database_url`, its search index in a directory named after
    /// `name` (kept between runs), and waits until it answers and its index is built.
    async fn start(database_url: &str, name: &str) -> Self {
        let port = crate::helpers::free_port();
        let index_dir =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("search-{name}"));
        let process = Process::start_on("serve", port, |command| {
            command
                .env("APP_ENV", "production")
                .env("SECRET_KEY_BASE", "b".repeat(64))
                .env("DATABASE_URL", database_url)
                .env("REDIS_URL", "redis://127.0.0.1:6379")
                .env("APP_DOMAIN", format!("127.0.0.1:{port}"))
                // Request logs at info would measure the log pipe; errors still show.
                .env("RUST_LOG", "warn")
                // The benchmark measures throughput, not the limits that protect it.
                .env("VIBECODING_RATE_LIMITS__ENABLED", "false")
                .env("VIBECODING_REDIS__KEY_PREFIX", format!("bench-{name}:"))
                .env("VIBECODING_SEARCH__INDEX_DIR", &index_dir)
                .env("VIBECODING_HTTP__MAX_WS_PER_IP", "1000000");
        });
        let server = Self { process };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(600) {
            let health = client
                .post(server.url("/graphql"))
                .json(&json!({ "query": "{ health { searchIndex } }" }))
                .send()
                .await;
            if let Ok(response) = health
                && let Ok(body) = response.json::<Value>().await
                && body["data"]["health"]["searchIndex"] == "UP"
            {
                eprintln!(
                    "{name}: server up, search index ready in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the benchmark server did not start:\n{}",
            server.process.output()
        );
    }

    fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    fn rss_mb(&self) -> f64 {
        self.process.rss_mb()
    }
}

struct Scenario {
    name: &'static str,
    body: Value,
    token: Option<String>,
    /// Writes: each request must differ, and pgbench cannot repeat them.
    writes: bool,
}

struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
}

fn millis(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Runs wrk against `/graphql` with the scenario's body and parses its report.
fn wrk(server: &Server, scenario: &Scenario, connections: u32, seconds: u32) -> Load {
    let dir = std::env::temp_dir();
    let script = dir.join(format!("vibecoding-bench-{}.lua", scenario.name));
    let auth = scenario
        .token
        .as_ref()
        .map(|t| format!("wrk.headers[\"Authorization\"] = \"Bearer {t}\"\n"))
        .unwrap_or_default();
    let body = scenario
        .body
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let request = if scenario.writes {
        // Every comment differs (the same text twice in one place is refused).
        format!(
            "local n = 0\nlocal id = tostring(math.random(1, 1e9))\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, string.gsub(\"{body}\", \"BENCH\", id .. \"-\" .. n))\nend\n"
        )
    } else {
        format!("wrk.body = \"{body}\"\n")
    };
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{auth}{request}"
        ),
    )
    .unwrap();
    let output = std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(server.url("/graphql"))
        .output()
        .expect("wrk (apt-get install wrk; `make bench` installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.trim_start()[prefix.len()..].trim().to_owned())
    };
    let percent = |p: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .map_or(f64::NAN, millis)
    };
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let socket: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Load {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50_ms: percent("50%"),
        p99_ms: percent("99%"),
        errors: non_2xx + socket,
        requests,
    }
}

async fn post(client: &reqwest::Client, server: &Server, scenario: &Scenario, n: usize) -> Value {
    let body = scenario.body.to_string().replace(
        "BENCH",
        &format!("probe-{n}-{}", uuid::Uuid::new_v4().simple()),
    );
    let mut request = client
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = &scenario.token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// The statements one request of `scenario` sends, as Postgres logged them, with their
/// parameters put in: a pgbench script of "the same SQL".
fn pgbench_script(log: &str, database: &str) -> String {
    let mut records: Vec<String> = Vec::new();
    for line in log.lines() {
        let starts_record = line.len() > 4 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        if starts_record {
            records.push(line.to_owned());
        } else if let Some(last) = records.last_mut() {
            last.push('\n');
            last.push_str(line.trim_start_matches('\t'));
        }
    }
    let marker = format!("@{database} ");
    let mut statements = Vec::new();
    let mut pending: Option<String> = None;
    for record in records.iter().filter(|r| r.contains(&marker)) {
        if let Some(at) = record.find("LOG:  execute ") {
            if let Some(sql) = pending.take() {
                statements.push(sql);
            }
            let rest = &record[at + "LOG:  execute ".len()..];
            pending = rest.split_once(": ").map(|(_, sql)| sql.to_owned());
        } else if let Some(at) = record.find("LOG:  statement: ") {
            if let Some(sql) = pending.take() {
                statements.push(sql);
            }
            statements.push(record[at + "LOG:  statement: ".len()..].to_owned());
        } else if let Some(at) = record.find("DETAIL:  parameters: ")
            && let Some(mut sql) = pending.take()
        {
            let params = &record[at + "DETAIL:  parameters: ".len()..];
            let mut values: Vec<(usize, String)> = split_params(params)
                .iter()
                .filter_map(|part| {
                    let (name, value) = part.split_once(" = ")?;
                    let n = name.trim().trim_start_matches('$').parse::<usize>().ok()?;
                    Some((n, value.trim().to_owned()))
                })
                .collect();
            // $10 before $1.
            values.sort_by_key(|v| std::cmp::Reverse(v.0));
            for (n, value) in values {
                sql = sql.replace(&format!("${n}"), &value);
            }
            statements.push(sql);
        }
    }
    if let Some(sql) = pending {
        statements.push(sql);
    }
    statements
        .iter()
        // The search index's own loop polls its change log on a connection of its own:
        // no request reads those tables.
        .filter(|s| !s.contains("search_state") && !s.contains("search_changes"))
        .map(|s| format!("{};\n", s.replace('\n', " ")))
        .collect()
}

/// Splits `$1 = 'a, b', $2 = NULL` at the commas between parameters.
fn split_params(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted && chars.peek() == Some(&' ') => {
                parts.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

fn pgbench(
    database: &str,
    script: &str,
    name: &str,
    connections: u32,
    seconds: u32,
) -> Option<f64> {
    let path = std::env::temp_dir().join(format!("vibecoding-bench-{name}.sql"));
    std::fs::write(&path, script).ok()?;
    let output = std::process::Command::new("pgbench")
        // Over loopback without TLS, as the server under test connects.
        .env("PGSSLMODE", "disable")
        // Prepared, as the server runs its statements (sqlx prepares and caches them).
        .args([
            "-n",
            "-M",
            "prepared",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-j",
            "2",
        ])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(&path)
        .arg(database)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

fn postgres_log() -> Option<std::path::PathBuf> {
    let dir = std::fs::read_dir("/var/log/postgresql").ok()?;
    dir.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-main.log"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// The HTTP scenarios of `make bench` against the release binary and a seeded database:
/// requests per second, p50/p99, errors and SQL statements per request for each, next to
/// pgbench running the same statements on the same machine; each search alone; the
/// server's memory. `BENCH_SECONDS` (10), `BENCH_CONNECTIONS` (32) and the seed size
/// (`BENCH_ARTICLES`, and `BENCH_USERS`, `BENCH_COMMENTS`, `BENCH_REACTIONS`) tune it.
/// The results go to `target/bench/` as a table and a chart.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench"]
async fn bench_http_scenarios() {
    use sqlx::Connection as _;
    // The size: `BENCH_ARTICLES` (100,000), with members, comments and reactions in
    // proportion unless given; each size has a database of its own, kept between runs.
    let articles: usize = env_or("BENCH_ARTICLES", 100_000);
    let users: usize = env_or("BENCH_USERS", (articles / 10).max(100));
    let comments: usize = env_or("BENCH_COMMENTS", articles * 5);
    let reactions: usize = env_or("BENCH_REACTIONS", articles * 20);
    let database: String = env_or("BENCH_DATABASE", format!("vibecoding_bench_{articles}"));
    let seconds: u32 = env_or("BENCH_SECONDS", 10);
    let connections: u32 = env_or("BENCH_CONNECTIONS", 32);
    let url = crate::helpers::pg_url(&database);
    let seeded = match sqlx::PgConnection::connect(&url).await {
        Ok(mut conn) => sqlx::query_scalar::<_, i64>("SELECT count(*) FROM articles")
            .fetch_one(&mut conn)
            .await
            .is_ok_and(|n| n as usize >= articles),
        Err(_) => false,
    };
    if !seeded {
        let started = Instant::now();
        let status = crate::process::vibecoding()
            .args([
                "seed",
                "--users",
                &users.to_string(),
                "--articles",
                &articles.to_string(),
            ])
            .args([
                "--comments",
                &comments.to_string(),
                "--reactions",
                &reactions.to_string(),
            ])
            .args(["--follows", &(users * 5).to_string()])
            .env("APP_ENV", "development")
            .env("DATABASE_URL", &url)
            .status()
            .unwrap();
        assert!(status.success());
        eprintln!(
            "seeded {users} members, {articles} articles, {comments} comments, {reactions} reactions in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let (username,): (String,) = sqlx::query_as(
        "SELECT username::text FROM users WHERE role = 'member' ORDER BY created_at LIMIT 1",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    // Comments earlier runs wrote are removed, so every run reads the same threads.
    let touched: Vec<uuid::Uuid> = sqlx::query_scalar(
        "DELETE FROM comments WHERE body_markdown LIKE 'Benchmark comment %' RETURNING article_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE articles a SET comments_count = (SELECT count(*) FROM comments c WHERE c.article_id = a.id AND c.deleted_at IS NULL)
         WHERE a.id = ANY($1)",
    )
    .bind(&touched)
    .execute(&mut db)
    .await
    .unwrap();
    // Their notification jobs too (the benchmark runs no worker).
    sqlx::query("DELETE FROM jobs WHERE kind = 'notify_comment'")
        .execute(&mut db)
        .await
        .unwrap();
    // The big thread: the second oldest live article, topped up to 5,000 comments (4,000
    // roots and 1,000 replies to them) once.
    let (big, big_count): (uuid::Uuid, i32) = sqlx::query_as(
        "SELECT id, comments_count FROM articles WHERE status = 'published' ORDER BY published_at, id OFFSET 1 LIMIT 1",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    if big_count < 5_000 {
        sqlx::query(
            "INSERT INTO comments (id, article_id, user_id, parent_id, depth, body_markdown, body_html, body_hash, score, created_at)
             SELECT gen_random_uuid(), $1, (SELECT id FROM users ORDER BY created_at LIMIT 1 OFFSET n % 50), NULL, 0,
                    'Big thread ' || n, '<p>Big thread ' || n || '</p>', sha256(('big' || n)::bytea), n % 13,
                    now() - make_interval(secs => n)
             FROM generate_series(1, 4000) n",
        )
        .bind(big)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO comments (id, article_id, user_id, parent_id, depth, body_markdown, body_html, body_hash, score, created_at)
             SELECT gen_random_uuid(), $1, p.user_id, p.id, 1, 'Big reply ' || n, '<p>Big reply ' || n || '</p>',
                    sha256(('big reply' || n)::bytea), n % 5, now() - make_interval(secs => n)
             FROM generate_series(1, 1000) n
             JOIN LATERAL (SELECT id, user_id FROM comments WHERE article_id = $1 AND parent_id IS NULL
                           ORDER BY score DESC, created_at, id OFFSET n % 40 LIMIT 1) p ON true",
        )
        .bind(big)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE articles SET comments_count = (SELECT count(*) FROM comments WHERE article_id = $1) WHERE id = $1",
        )
        .bind(big)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query("VACUUM ANALYZE comments")
            .execute(&mut db)
            .await
            .unwrap();
    }
    // The thread read: the most commented live article but the big one, topped up to 50
    // comments below if need be. The comments written go to another article.
    let (article, comments_now): (uuid::Uuid, i32) = sqlx::query_as(
        "SELECT id, comments_count FROM articles WHERE status = 'published' AND id <> $1
         ORDER BY comments_count DESC, published_at DESC LIMIT 1",
    )
    .bind(big)
    .fetch_one(&mut db)
    .await
    .unwrap();
    let (written,): (uuid::Uuid,) = sqlx::query_as(
        "SELECT id FROM articles WHERE status = 'published' AND id <> $1 ORDER BY published_at LIMIT 1",
    )
    .bind(article)
    .fetch_one(&mut db)
    .await
    .unwrap();
    let global = |id: uuid::Uuid| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Article:{id}"))
    };
    let article_id = global(article);
    let written_id = global(written);
    let big_id = global(big);
    eprintln!("the thread read has {} comments", comments_now.max(50));
    // Server and pgbench talk to Postgres over loopback without TLS: encrypting on both
    // ends of a loopback connection measured AES, not the read paths (it halved
    // pgbench's own ceiling here).
    let server = Server::start(&format!("{url}?sslmode=disable"), "http").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss_mb();
    let client = reqwest::Client::new();
    let signed_in: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": "mutation($i: LoginInput!) { login(input: $i) { userErrors { field message code } token } }", "variables": { "i": { "login": username, "password": vibecoding::cli::seed::PASSWORD } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["data"]["login"]["token"]
        .as_str()
        .expect("login")
        .to_owned();
    for n in comments_now..50 {
        let body: Value = client
            .post(server.url("/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": COMMENT, "variables": { "a": article_id, "b": format!("Thread filler {n}") } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
    let scenarios = vec![
        Scenario {
            name: "home feed",
            body: json!({ "query": FEED }),
            token: None,
            writes: false,
        },
        Scenario {
            name: "signed-in feed",
            body: json!({ "query": SIGNED_IN_FEED }),
            token: Some(token.clone()),
            writes: false,
        },
        Scenario {
            name: "article + 50 comments",
            body: json!({ "query": ARTICLE, "variables": { "id": article_id } }),
            token: None,
            writes: false,
        },
        Scenario {
            name: "article + 5,000 comments",
            body: json!({ "query": ARTICLE, "variables": { "id": big_id } }),
            token: None,
            writes: false,
        },
        Scenario {
            name: "search",
            body: json!({ "query": SEARCH, "variables": { "q": "rust performance" } }),
            token: None,
            writes: false,
        },
        Scenario {
            name: "create a comment",
            body: json!({ "query": COMMENT, "variables": { "a": written_id, "b": "Benchmark comment BENCH" } }),
            token: Some(token.clone()),
            writes: true,
        },
    ];
    // Each answers without errors before it is timed.
    for scenario in &scenarios {
        let body = post(&client, &server, scenario, 0).await;
        assert!(body.get("errors").is_none(), "{}: {body}", scenario.name);
    }

    // Statements per request: a second server whose Postgres traffic goes through the
    // counting proxy; and, logged by Postgres, the statements themselves for pgbench.
    let proxy = crate::proxy::Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let log = postgres_log();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" SET log_statement = 'all'"
    )))
    .execute(&mut db)
    .await
    .unwrap();
    let counted = Server::start(
        &format!(
            "postgres://postgres@{}/{database}?sslmode=disable",
            proxy.addr
        ),
        "counted",
    )
    .await;
    let mut per_request = Vec::new();
    let mut scripts = Vec::new();
    for scenario in &scenarios {
        post(&client, &counted, scenario, 1).await; // warm: prepared statements, pool
        let offset = log
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        let before = proxy.statements();
        post(&client, &counted, scenario, 2).await;
        let one = proxy.statements() - before;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let logged = log
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes[offset as usize..]).into_owned())
            .unwrap_or_default();
        scripts.push(pgbench_script(&logged, &database));
        let probes = 20;
        let before = proxy.statements();
        for n in 0..probes {
            post(&client, &counted, scenario, 10 + n).await;
        }
        per_request.push((one, (proxy.statements() - before) as f64 / probes as f64));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" RESET log_statement"
    )))
    .execute(&mut db)
    .await
    .unwrap();
    drop(counted);

    let header = format!(
        "{connections} connections, {seconds} s each, wrk -t2; server, Postgres, Redis and wrk share this machine ({} cores); {articles} articles, {comments} comments",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut table = vec![
        "| scenario | req/s | p50 ms | p99 ms | errors | SQL/req | pgbench tps | ratio |"
            .to_owned(),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".to_owned(),
    ];
    let mut rows = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let load = wrk(&server, scenario, connections, seconds);
        let ceiling = if scenario.writes || scripts[i].is_empty() {
            None
        } else {
            pgbench(
                &database,
                &scripts[i],
                scenario.name.split(' ').next().unwrap_or("x"),
                connections,
                seconds,
            )
        };
        table.push(format!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {:.1} | {} | {} |",
            scenario.name,
            load.rps,
            load.p50_ms,
            load.p99_ms,
            load.errors,
            per_request[i].1,
            ceiling.map_or("n/a".to_owned(), |t| format!("{t:.0}")),
            ceiling.map_or("n/a".to_owned(), |t| format!(
                "{:.0}%",
                load.rps / t * 100.0
            )),
        ));
        eprintln!("{}", table.last().map_or("", String::as_str));
        assert!(load.requests > 0, "{}: wrk made no requests", scenario.name);
        rows.push((scenario.name, load, ceiling));
    }

    // Each search alone, one request at a time: what a reader waits.
    table.push(String::new());
    table.push("| search alone | p50 ms | p99 ms | hits |".to_owned());
    table.push("| --- | ---: | ---: | ---: |".to_owned());
    for q in [
        "rust performance",
        "rust",
        "dolor",
        "\"hello community\"",
        "performance -rust",
        "zzzqqq",
    ] {
        let scenario = Scenario {
            name: "search alone",
            body: json!({ "query": SEARCH, "variables": { "q": q } }),
            token: None,
            writes: false,
        };
        let mut times = Vec::new();
        let mut hits = 0;
        for n in 0..60 {
            let started = Instant::now();
            let body = post(&client, &server, &scenario, n).await;
            times.push(started.elapsed());
            hits = body["data"]["search"]["edges"]
                .as_array()
                .map_or(0, Vec::len);
        }
        let times = &mut times[10..];
        times.sort();
        table.push(format!(
            "| `{q}` | {:.2} | {:.2} | {hits} |",
            percentile(times, 0.5).as_secs_f64() * 1000.0,
            percentile(times, 0.99).as_secs_f64() * 1000.0,
        ));
        eprintln!("{}", table.last().map_or("", String::as_str));
    }
    let after_rss = server.rss_mb();
    let memory = format!(
        "server RSS: {idle_rss:.1} MB idle (started, search index built), {after_rss:.1} MB after the run"
    );
    eprintln!("\n{header}\n\n{}\n\n{memory}", table.join("\n"));
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join(format!("http-{articles}.md")),
        format!("{header}\n\n{}\n\n{memory}\n", table.join("\n")),
    )
    .unwrap();
    std::fs::write(
        out.join(format!("http-{articles}.svg")),
        chart(&format!("make bench, {articles} articles"), &rows),
    )
    .unwrap();
    eprintln!("written to {}", out.display());
    for (i, scenario) in scenarios.iter().enumerate() {
        eprintln!(
            "--- {} ({} statements logged, {} counted)\n{}",
            scenario.name,
            scripts[i].lines().count(),
            per_request[i].0,
            scripts[i]
        );
    }
}

/// Two panels: requests per second per scenario (with pgbench's ceiling for the same SQL
/// as an outline where there is one), and p50/p99 latency.
fn chart(title: &str, rows: &[(&str, Load, Option<f64>)]) -> String {
    let width = 760.0;
    let row_height = 34.0;
    let label_width = 190.0;
    let bar_space = width - label_width - 90.0;
    let panel_height = row_height * rows.len() as f64;
    let height = 70.0 + 2.0 * panel_height + 60.0;
    let max_rps = rows
        .iter()
        .map(|(_, l, c)| l.rps.max(c.unwrap_or(0.0)))
        .fold(1.0, f64::max);
    let max_ms = rows.iter().map(|(_, l, _)| l.p99_ms).fold(1.0, f64::max);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="15" font-weight="bold">{title}</text>
<text x="10" y="48" font-weight="bold">requests per second (outline: pgbench running the same SQL)</text>
"##
    );
    let mut y = 58.0;
    for (name, load, ceiling) in rows {
        let w = load.rps / max_rps * bar_space;
        svg.push_str(&format!(
            r##"<text x="10" y="{:.0}">{name}</text><rect x="{label_width}" y="{y:.0}" width="{w:.1}" height="20" fill="#3b82f6"/><text x="{:.1}" y="{:.0}">{:.0}</text>
"##,
            y + 14.0,
            label_width + w + 4.0,
            y + 14.0,
            load.rps
        ));
        if let Some(c) = ceiling {
            svg.push_str(&format!(
                r##"<rect x="{label_width}" y="{:.0}" width="{:.1}" height="20" fill="none" stroke="#111" stroke-dasharray="4 2"/>
"##,
                y,
                c / max_rps * bar_space
            ));
        }
        y += row_height;
    }
    y += 18.0;
    svg.push_str(&format!(
        r##"<text x="10" y="{y:.0}" font-weight="bold">latency in ms under load: p50 (dark), p99 (light)</text>
"##
    ));
    y += 10.0;
    for (name, load, _) in rows {
        let p99 = load.p99_ms / max_ms * bar_space;
        let p50 = load.p50_ms / max_ms * bar_space;
        svg.push_str(&format!(
            r##"<text x="10" y="{:.0}">{name}</text><rect x="{label_width}" y="{y:.0}" width="{p99:.1}" height="20" fill="#fdba74"/><rect x="{label_width}" y="{y:.0}" width="{p50:.1}" height="20" fill="#ea580c"/><text x="{:.1}" y="{:.0}">{:.1} / {:.1}</text>
"##,
            y + 14.0,
            label_width + p99 + 4.0,
            y + 14.0,
            load.p50_ms,
            load.p99_ms
        ));
        y += row_height;
    }
    svg.push_str("</svg>\n");
    svg
}
