//! Attacks that fit in a few hundred bytes, each driven through the public interface and
//! shown to be refused with bounded work: fragment fan-out, bracket nesting, YAML alias
//! bombs, nested Markdown, GIF canvases, persisted-query abuse, busy pools and slow
//! statements, spoofed client addresses.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Options, TestApp, code, field, message, spawn_app, spawn_app_with};

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";

/// Resident memory of this process (the test server runs in it), in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .timeout(Duration::from_secs(10))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("answered within 10 s");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap(), started.elapsed())
}

/// `{...F0} fragment F0 on Query{...F1 ...F1} ... fragment F<n> on Query{health{app}}`
fn fan_out(levels: usize) -> String {
    let mut q = String::from("query{...F0}");
    for i in 0..levels {
        q.push_str(&format!(
            " fragment F{i} on Query{{...F{} ...F{}}}",
            i + 1,
            i + 1
        ));
    }
    q.push_str(&format!(" fragment F{levels} on Query{{health{{app}}}}"));
    q
}

#[tokio::test]
async fn fragment_fan_out_and_deep_brackets_are_refused_at_the_cost_of_reading_them() {
    let app = spawn_app().await;
    for levels in [25, 40] {
        let query = fan_out(levels);
        let (status, body, took) = post(&app, None, &json!({ "query": query })).await;
        assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
        let message = message(&body);
        assert!(message.contains("expands to more than"), "{message}");
        println!(
            "{levels} levels of fragments ({} bytes) refused in {took:?}",
            query.len()
        );
        // 2^40 spreads once expanded; refused after reading 40 fragments (it took 6.9 s
        // of CPU at 25 levels, and no answer in 20 s at 40, before the guard).
        assert!(
            took < Duration::from_secs(1),
            "{levels} levels took {took:?}"
        );
    }
    // The same through introspection, which is exempt from the depth limit only.
    let mut query = String::from("{ __schema { types { ...T0 } } }");
    for i in 0..30 {
        query.push_str(&format!(
            " fragment T{i} on __Type {{ ...T{} ...T{} }}",
            i + 1,
            i + 1
        ));
    }
    query.push_str(" fragment T30 on __Type { name }");
    let (status, body, _) = post(&app, None, &json!({ "query": query })).await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");

    // 3,000 nested lists in an argument (6 KB) would overflow the parser's stack and end
    // the process; they are refused before parsing, and the server goes on.
    let deep = format!(
        "{{ tag(name: {}\"x\"{}) {{ name }} }}",
        "[".repeat(3000),
        "]".repeat(3000)
    );
    let (status, body, took) = post(&app, None, &json!({ "query": deep })).await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("nests brackets"));
    println!("3,000 nested lists refused in {took:?}");
    let deep_objects = format!(
        "{{ tag(name: {}1{}) {{ name }} }}",
        "{a:".repeat(3000),
        "}".repeat(3000)
    );
    assert_eq!(
        code(&post(&app, None, &json!({ "query": deep_objects })).await.1),
        "BAD_USER_INPUT"
    );
    let (status, body, _) = post(&app, None, &json!({ "query": "{ health { app } }" })).await;
    assert_eq!(status, 200, "still serving: {body}");
    // Huge documents are refused unread.
    let huge = format!("{{ health {{ app }} }} # {}", "x".repeat(300 * 1024));
    let (_, body, _) = post(&app, None, &json!({ "query": huge })).await;
    assert!(message(&body).contains("bytes"), "{body}");
    // One search per document.
    let two = "{ a: search(query: \"x\") { edges { cursor } } b: search(query: \"y\") { edges { cursor } } }";
    let (_, body, _) = post(&app, None, &json!({ "query": two })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("at most 1 search"));
}

/// Front matter whose aliases nest `levels` deep, ten to a level.
fn alias_bomb(levels: usize) -> String {
    let names: Vec<String> = (0..=levels).map(|i| format!("l{i}")).collect();
    let mut yaml = format!("{}: &{} [x,x,x,x,x,x,x,x,x,x]\n", names[0], names[0]);
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 10].join(",");
        yaml.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    format!("---\n{yaml}title: bomb\n---\nbody")
}

#[tokio::test]
async fn alias_bombs_and_nested_markdown_are_refused_without_the_work() {
    let app = spawn_app().await;
    // An unconfirmed account can write drafts: the bomb needs nothing more.
    let token = app.register("bomber").await;
    let before = rss();
    let bomb = alias_bomb(7);
    assert!(bomb.len() < 500, "{} bytes", bomb.len());
    let (_, body, took) = post(
        &app,
        Some(&token),
        &json!({ "query": CREATE, "variables": { "i": { "bodyMarkdown": bomb } } }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(field(&body), "bodyMarkdown");
    assert!(message(&body).contains("front matter"));
    let grown = rss().saturating_sub(before);
    // Expanded, 7 levels are 2 GB; other tests share the process, hence the margin.
    assert!(
        grown < 300 * 1024 * 1024,
        "resident memory grew by {grown} bytes"
    );
    println!(
        "a {}-byte alias bomb refused in {took:?}; resident memory grew by {} KB",
        bomb.len(),
        grown / 1024
    );

    // 200 KB of quote markers: 200,000 nested quotes, refused after a linear parse.
    let quotes = ">".repeat(200_000) + " x";
    let (_, body, took) = post(
        &app,
        Some(&token),
        &json!({ "query": CREATE, "variables": { "i": { "title": "Deep", "bodyMarkdown": quotes } } }),
    )
    .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "bodyMarkdown"),
        "{body}"
    );
    println!("200,000 nested quotes refused in {took:?}");
    assert_eq!(app.count("SELECT count(*) FROM articles").await, 0);
}

/// A GIF with a `width` x `height` canvas and `frames` one-pixel frames.
fn gif_canvas(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut raw = Vec::new();
    {
        let mut encoder =
            gif::Encoder::new(&mut raw, width, height, &[0, 0, 0, 255, 255, 255]).unwrap();
        for _ in 0..frames {
            let frame = gif::Frame {
                width: 1,
                height: 1,
                buffer: std::borrow::Cow::Borrowed(&[1]),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    raw
}

const UPLOAD: &str = "mutation($file: Upload!) { uploadImage(input: { file: $file, purpose: ARTICLE }) { userErrors { field message code } image { id size format } } }";

#[tokio::test]
async fn gif_canvases_and_quotas_bound_what_uploads_cost() {
    let app = spawn_app_with(Options::default(), |s| s.uploads.quota_bytes = 3_000).await;
    let token = app.member("uploader").await;
    // 4096x4096, 500 frames: 8 billion pixels to decode, in 12 KB.
    let bomb = gif_canvas(4096, 4096, 500);
    assert!(bomb.len() < 16_000, "{} bytes", bomb.len());
    let started = Instant::now();
    let (status, body) = app
        .upload(
            Some(&token),
            UPLOAD,
            json!({ "file": null }),
            "file",
            "x.gif",
            bomb,
        )
        .await;
    let took = started.elapsed();
    assert_eq!((status, code(&body)), (200, "BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("pixels"), "{body}");
    println!("a 500-frame 4096x4096 GIF refused in {took:?}");

    // The quota: one small image fits, the next does not.
    let png = crate::uploads::png(20, 20);
    let (_, body) = app
        .upload(
            Some(&token),
            UPLOAD,
            json!({ "file": null }),
            "file",
            "a.png",
            png.clone(),
        )
        .await;
    assert!(
        body["data"]["uploadImage"]["image"]["size"]
            .as_i64()
            .unwrap()
            > 0,
        "{body}"
    );
    let noisy = {
        let mut seed = 7u32;
        let image = image::RgbImage::from_fn(60, 60, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            image::Rgb([seed as u8, (seed >> 8) as u8, (seed >> 16) as u8])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
            .unwrap();
        out
    };
    let (_, body) = app
        .upload(
            Some(&token),
            UPLOAD,
            json!({ "file": null }),
            "file",
            "b.png",
            noisy,
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "file"),
        "{body}"
    );
    assert!(message(&body).contains("MB"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM images").await, 1);
    let stored = std::fs::read_dir(&app.state.settings.uploads.dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 1, "the refused upload left no file behind");
}

fn sha(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn persisted_queries_are_stored_only_once_valid_small_and_within_a_rate() {
    let app = spawn_app_with(Options::default(), |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.persisted_query_per_ip = vibecoding::config::Rule::new(2, 600);
        s.graphql.apq_max_bytes = 200;
    })
    .await;
    let by_hash = |hash: String| json!({ "extensions": apq(&hash) });
    // A document that does not validate is not remembered.
    let junk = "{ noSuchField }";
    let (_, body, _) = post(
        &app,
        None,
        &json!({ "query": junk, "extensions": apq(&sha(junk)) }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let (_, body, _) = post(&app, None, &by_hash(sha(junk))).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    // Too large: it runs, and is not remembered.
    let large = format!("{{ health {{ app }} }} # {}", "x".repeat(300));
    let (_, body, _) = post(
        &app,
        None,
        &json!({ "query": large, "extensions": apq(&sha(&large)) }),
    )
    .await;
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
    let (_, body, _) = post(&app, None, &by_hash(sha(&large))).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    // Two registrations from this address, then no more (the third still runs).
    for i in 0..3 {
        let query = format!("query Q{i} {{ health {{ app }} }}");
        let (_, body, _) = post(
            &app,
            None,
            &json!({ "query": query, "extensions": apq(&sha(&query)) }),
        )
        .await;
        assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
        let (_, body, _) = post(&app, None, &by_hash(sha(&query))).await;
        if i < 2 {
            assert_eq!(body["data"]["health"]["app"], "UP", "{i}: {body}");
        } else {
            assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
        }
    }
    let keys: Vec<String> = {
        let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg(format!("{}apq:*", app.redis_prefix))
            .query_async(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[tokio::test]
async fn persisted_only_holds_for_uploads_and_websockets_too() {
    let manifest =
        std::env::temp_dir().join(format!("manifest-{}.json", uuid::Uuid::new_v4().simple()));
    let known = "query Health { health { app } }";
    std::fs::write(
        &manifest,
        json!({ "operations": [{ "id": sha(known), "body": known }] }).to_string(),
    )
    .unwrap();
    let path = manifest.clone();
    // The member signs up on an ordinary node; the locked-down one shares its database.
    let open = spawn_app().await;
    let token = open.member("uploader").await;
    let app = open
        .second_node_with(Options::default(), move |s| {
            s.graphql.persisted_only = true;
            s.graphql.persisted_manifest = Some(path);
        })
        .await;
    let png = crate::uploads::png(4, 4);
    let (_, body) = app
        .upload(
            Some(&token),
            UPLOAD,
            json!({ "file": null }),
            "file",
            "a.png",
            png,
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    ws.subscribe("1", "subscription { serverTime(intervalMs: 100) }")
        .await;
    let reply = ws.next_json().await;
    let errors = if reply["type"] == "next" {
        reply["payload"]["errors"].clone()
    } else {
        reply["payload"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{reply}");
    // The manifest's own operation runs over the socket.
    ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": known } }))
        .await;
    let reply = loop {
        let reply = ws.next_json().await;
        if reply["id"] == "2" {
            break reply;
        }
    };
    assert_eq!(reply["payload"]["data"]["health"]["app"], "UP", "{reply}");
    let _ = std::fs::remove_file(manifest);
}

#[tokio::test]
async fn a_busy_pool_and_a_slow_statement_are_answered_not_queued() {
    // One connection, held by the test: a request waits at most the acquire timeout.
    let app = spawn_app_with(Options::default(), |s| {
        s.database.max_connections = 1;
        s.database.acquire_timeout_ms = 300;
    })
    .await;
    let token = app.member("busy").await;
    let held = app.state.db.acquire().await.unwrap();
    let (_, body, took) = post(
        &app,
        None,
        &json!({ "query": "{ tags { edges { node { name } } } }" }),
    )
    .await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Signed in, the credential cannot be checked either: the same busy answer, as a 429.
    let (status, body, _) = post(
        &app,
        Some(&token),
        &json!({ "query": "{ viewer { role } }" }),
    )
    .await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
    drop(held);

    let app = spawn_app_with(Options::default(), |s| s.database.statement_timeout_ms = 1).await;
    let mut limited = 0;
    for word in ["rust", "web", "performance", "async", "go"] {
        let query = format!("{{ search(query: \"{word}\") {{ edges {{ cursor }} }} }}");
        let (_, body, _) = post(&app, None, &json!({ "query": query })).await;
        assert_ne!(code(&body), "INTERNAL_SERVER_ERROR", "{body}");
        if code(&body) == "RATE_LIMITED" {
            limited += 1;
        }
    }
    assert!(limited > 0, "a 1 ms statement timeout cut no search short");
}

#[tokio::test]
async fn only_trusted_proxies_may_name_the_client() {
    let register = |n: usize| {
        json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { userErrors { field message code } token } }",
            "variables": { "i": { "username": format!("addr_{n}"), "email": format!("addr{n}@example.com"), "password": "correct horse battery" } }
        })
    };
    async fn from(app: &TestApp, forwarded: &str, body: &Value) -> Value {
        app.client
            .post(app.url("/graphql"))
            .header("x-forwarded-for", forwarded)
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    for (trusted, spoofing_works) in [("", false), ("127.0.0.1/32", true)] {
        let app = spawn_app_with(Options::default(), move |s| {
            s.rate_limits.enabled = true;
            s.rate_limits.registration_per_ip = vibecoding::config::Rule::new(1, 3_600);
            s.http.trusted_proxies = vibecoding::config::TrustedProxies::parse(trusted).unwrap();
        })
        .await;
        assert!(
            from(&app, "203.0.113.1", &register(1)).await["data"]["register"]["token"].is_string()
        );
        // A second address: a different client only when the header comes from a proxy.
        let second = from(&app, "203.0.113.2", &register(2)).await;
        if spoofing_works {
            assert!(second["data"]["register"]["token"].is_string(), "{second}");
        } else {
            assert_eq!(code(&second), "RATE_LIMITED", "{second}");
        }
    }
}

#[tokio::test]
async fn unpaired_surrogates_are_refused_by_either_parser() {
    let app = spawn_app().await;
    // In a JSON variable: the body is not valid JSON.
    let raw =
        r#"{"query":"query($n: String!) { tag(name: $n) { name } }","variables":{"n":"\ud800"}}"#;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // In a GraphQL string literal: a syntax error.
    let (status, body, _) = post(
        &app,
        None,
        &json!({ "query": "{ tag(name: \"\\ud800\") { name } }" }),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
}

/// Work that does not follow the page size is priced by what it does: each id of
/// `nodes(ids:)` costs its selection, a thread costs its loading, a search costs its
/// scans; with the default limit of 5,000 a document of a few hundred bytes asking for
/// 100 threads through `nodes(ids:)` is refused before it runs.
#[tokio::test]
async fn nodes_threads_and_searches_cost_what_they_do() {
    let app = spawn_app().await;
    let ids: Vec<String> = (0..100)
        .map(|i| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("Article:{}", uuid::Uuid::from_u128(i)))
        })
        .collect();
    let threads = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Article { comments(first: 5) { edges { node { id } } } } } }";
    let (status, body, _) = post(
        &app,
        None,
        &json!({ "query": threads, "variables": { "ids": ids } }),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("too complex"), "{body}");
    // The same selection for two ids runs (and finds nothing).
    let (status, body, _) = post(
        &app,
        None,
        &json!({ "query": threads, "variables": { "ids": &ids[..2] } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["nodes"], json!([null, null]));
    // Searches: each is several scans; one is allowed per document.
    let searches = "{ a: search(query: \"rust\", first: 1) { edges { cursor } } b: search(query: \"go\", first: 1) { edges { cursor } } }";
    let (status, body, _) = post(&app, None, &json!({ "query": searches })).await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("at most 1 search"), "{body}");
}

/// A string longer than `graphql.max_text_bytes`, in a variable or a literal, is refused
/// with the argument it feeds named, before anything runs.
#[tokio::test]
async fn over_long_strings_are_refused_at_the_boundary() {
    let app = spawn_app_with(Options::default(), |s| s.graphql.max_text_bytes = 1_000).await;
    let long = "x".repeat(1_001);
    let (status, body, _) = post(
        &app,
        None,
        &json!({ "query": "query($q: String!) { search(query: $q) { edges { cursor } } }", "variables": { "q": long } }),
    )
    .await;
    assert_eq!(
        (status, code(&body), field(&body)),
        (400, "BAD_USER_INPUT", "query"),
        "{body}"
    );
    let (status, body, _) = post(
        &app,
        None,
        &json!({ "query": format!("{{ tag(name: \"{long}\") {{ name }} }}") }),
    )
    .await;
    assert_eq!(
        (status, code(&body), field(&body)),
        (400, "BAD_USER_INPUT", "name"),
        "{body}"
    );
    let (status, _, _) = post(
        &app,
        None,
        &json!({ "query": format!("{{ tag(name: \"{}\") {{ name }} }}", &long[1..]) }),
    )
    .await;
    assert_eq!(status, 200, "a string at the limit is fine");
}
