//! The `vibecoding` binary as operators run it: help, configuration, production checks,
//! schema, migrations, the worker, signals, and Sentry reporting.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection as _;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{drop_database, free_port, fresh_database, pg_url};
use crate::process::{Process, run, vibecoding};
use crate::proxy::{Mode, Proxy};

/// How long a test waits for the server to do something (send an email, report an error,
/// exit): generous, because a loaded two-core runner is slow; a wait ends as soon as it is met.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn help_documents_every_command_option_and_environment_variable() {
    let (code, out, _) = run(vibecoding().arg("--help"));
    assert_eq!(code, 0);
    for word in ["serve", "worker", "migrate", "schema", "config", "--config"] {
        assert!(out.contains(word), "{word} missing from --help");
    }
    for command in ["serve", "worker", "migrate"] {
        let (code, out, _) = run(vibecoding().args([command, "--help"]));
        assert_eq!(code, 0);
        for var in vibecoding::config::TOP_LEVEL_ENV {
            assert!(out.contains(var), "{command} --help does not mention {var}");
        }
        assert!(out.contains("RAILS_ENV"));
    }
    let (_, out, _) = run(vibecoding().args(["serve", "--help"]));
    assert!(
        out.contains("--port") && out.contains("[env: PORT=]") || out.contains("[env: PORT]"),
        "{out}"
    );
    let (_, out, _) = run(vibecoding().args(["schema", "--help"]));
    assert!(out.contains("--check"));
}

#[test]
fn configuration_layers_defaults_file_and_environment() {
    let dir = std::env::temp_dir().join(format!(
        "vibecoding-config-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("custom.toml");
    std::fs::write(
        &file,
        "port = 4100\napp_domain = \"from-file.example\"\n[graphql]\nmax_depth = 7\n",
    )
    .unwrap();

    let config = |command: &mut Command| -> Value {
        let (code, out, err) = run(command.arg("config"));
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let defaults = config(&mut vibecoding());
    assert_eq!(defaults["port"], 3000);
    assert_eq!(defaults["app_env"], "development");
    assert_eq!(defaults["redis_url"], "redis://127.0.0.1:6379");

    let from_file = config(vibecoding().arg("--config").arg(&file));
    assert_eq!(from_file["port"], 4100);
    assert_eq!(from_file["app_domain"], "from-file.example");
    assert_eq!(from_file["graphql"]["max_depth"], 7);

    let from_env = config(
        vibecoding()
            .arg("--config")
            .arg(&file)
            .env("PORT", "4200")
            .env("RAILS_ENV", "test")
            .env("VIBECODING_GRAPHQL__MAX_DEPTH", "9")
            .env("SECRET_KEY_BASE", "do-not-print-me")
            .env("DATABASE_URL", "postgres://user:hunter2@db.example/x"),
    );
    assert_eq!(from_env["port"], 4200);
    assert_eq!(from_env["app_domain"], "from-file.example");
    assert_eq!(
        from_env["app_env"], "test",
        "RAILS_ENV is the fallback for APP_ENV"
    );
    assert_eq!(from_env["graphql"]["max_depth"], 9);
    let printed = from_env.to_string();
    assert!(
        !printed.contains("do-not-print-me") && !printed.contains("hunter2"),
        "{printed}"
    );

    let both = config(
        vibecoding()
            .env("RAILS_ENV", "test")
            .env("APP_ENV", "development"),
    );
    assert_eq!(
        both["app_env"], "development",
        "APP_ENV wins over RAILS_ENV"
    );

    // vibecoding.toml in the working directory is read without --config.
    std::fs::write(dir.join("vibecoding.toml"), "port = 4300\n").unwrap();
    let local = config(vibecoding().current_dir(&dir));
    assert_eq!(local["port"], 4300);

    let (code, _, err) = run(vibecoding().env("PORT", "not-a-port").arg("config"));
    assert_eq!(code, 2);
    assert!(err.contains("port"), "{err}");

    // A password in REDIS_URL is not printed either.
    let redis = config(vibecoding().env("REDIS_URL", "redis://:hunter2@cache.example:6379"));
    assert_eq!(redis["redis_url"], "redis://cache.example:6379");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A misspelt key is an error naming it, in the file or in a VIBECODING_ variable, not a
/// setting silently left at its default.
#[test]
fn unknown_configuration_keys_are_refused_by_name() {
    let dir = std::env::temp_dir().join(format!(
        "vibecoding-unknown-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, key) in [
        ("top.toml", "prot = 4100\n", "prot"),
        ("nested.toml", "[jobs]\nlease_sec = 5\n", "lease_sec"),
        ("section.toml", "[grapql]\nmax_depth = 7\n", "grapql"),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(vibecoding().arg("--config").arg(&file).arg("config"));
        assert_eq!(code, 2, "{name}");
        assert!(err.contains(key), "{name}: {err}");
    }
    let (code, _, err) = run(vibecoding()
        .env("VIBECODING_JOBS__LEASE_SEC", "5")
        .arg("config"));
    assert_eq!(code, 2);
    assert!(err.contains("lease_sec"), "{err}");
    // The variable that names the file is not a setting.
    let file = dir.join("ok.toml");
    std::fs::write(&file, "port = 4500\n").unwrap();
    let (code, out, err) = run(vibecoding().env("VIBECODING_CONFIG", &file).arg("config"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4500"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn production_refuses_to_start_without_its_secrets() {
    let cases = [
        (vec![("SECRET_KEY_BASE", "x".repeat(64))], "DATABASE_URL"),
        (vec![("DATABASE_URL", pg_url("nowhere"))], "SECRET_KEY_BASE"),
        (
            vec![
                ("DATABASE_URL", pg_url("nowhere")),
                ("SECRET_KEY_BASE", "short".to_owned()),
            ],
            "SECRET_KEY_BASE",
        ),
    ];
    for (vars, named) in cases {
        for command in ["serve", "worker", "migrate"] {
            let mut cmd = vibecoding();
            cmd.arg(command).env("APP_ENV", "production");
            for (k, v) in &vars {
                cmd.env(k, v);
            }
            let (code, out, err) = run(&mut cmd);
            assert_eq!(code, 2, "{command}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(named), "{err}");
            assert!(out.is_empty());
        }
    }
    // RAILS_ENV=production counts too.
    let (code, _, err) = run(vibecoding().arg("serve").env("RAILS_ENV", "production"));
    assert_eq!(code, 2);
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn schema_prints_the_sdl_and_check_detects_a_stale_file() {
    let (code, out, _) = run(vibecoding().arg("schema"));
    assert_eq!(code, 0);
    assert_eq!(out, vibecoding::graphql::sdl());
    let (code, _, err) = run(vibecoding().args(["schema", "--check"]));
    assert_eq!(code, 0, "{err}");

    let stale =
        std::env::temp_dir().join(format!("stale-{}.graphql", uuid::Uuid::new_v4().simple()));
    std::fs::write(&stale, "type Query { old: Int }\n").unwrap();
    let (code, _, err) = run(vibecoding()
        .args(["schema", "--check", "--path"])
        .arg(&stale));
    assert_eq!(code, 1);
    assert!(err.contains("out of date"), "{err}");
    std::fs::remove_file(stale).unwrap();
}

#[tokio::test]
async fn migrate_creates_the_database_and_two_nodes_migrating_at_once_is_safe() {
    let name = format!("vibecoding_test_{}", uuid::Uuid::new_v4().simple());
    let children: Vec<Child> = (0..2)
        .map(|_| {
            vibecoding()
                .arg("migrate")
                .env("APP_ENV", "test")
                .env("DATABASE_URL", pg_url(&name))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut conn = sqlx::PgConnection::connect(&pg_url(&name)).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let migrations = vibecoding::db::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert_eq!(applied, i64::try_from(migrations).unwrap());
    conn.close().await.unwrap();
    drop_database(name);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits_cleanly() {
    let db = fresh_database().await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let db_url = format!("postgres://postgres@{}/{db}", proxy.addr);
    let mut server = Process::start("serve", |c| {
        c.env("DATABASE_URL", &db_url);
    });
    server.wait_ready().await;

    // A request that takes a while: the database check against a hanging database.
    proxy.set(Mode::Hang);
    let client = reqwest::Client::new();
    let slow = tokio::spawn(
        client
            .get(server.url("/api/v1/health_checks/database"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");
    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request was cut off");
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "Database NOT connected!"
    );
    proxy.set(Mode::Down);
    assert_eq!(server.wait_exit(PATIENCE), 0, "{}", server.output());
    assert!(server.output().contains("shutting down"));
    drop(proxy);
    drop_database(db);
}

#[tokio::test]
async fn the_worker_starts_and_stops_on_sigterm() {
    let db = fresh_database().await;
    let mut child = vibecoding()
        .arg("worker")
        .env("APP_ENV", "test")
        .env("DATABASE_URL", pg_url(&db))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("worker started"));
    assert!(started.is_some());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("worker stopped")),
        "{rest:?}"
    );
    drop_database(db);
}

#[tokio::test]
async fn sentry_receives_errors_without_secrets() {
    let (ingest, dsn) = ingest_server().await;

    let db = fresh_database().await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    // trust authentication ignores the password, so it can stand for a real one here.
    let db_url = format!("postgres://postgres:hunter2@{}/{db}", proxy.addr);
    let mut server = Process::start("serve", |c| {
        c.env("DATABASE_URL", &db_url)
            .env("SENTRY_DSN", &dsn)
            .env("SENTRY_ENVIRONMENT", "integration")
            .env("SECRET_KEY_BASE", "k".repeat(64));
    });
    server.wait_ready().await;
    proxy.set(Mode::Down);
    let response = reqwest::get(server.url("/api/v1/health_checks/database"))
        .await
        .unwrap();
    assert_eq!(response.status(), 500);

    let deadline = Instant::now() + PATIENCE;
    let body = loop {
        let requests = ingest.received_requests().await.unwrap_or_default();
        if let Some(request) = requests.first() {
            break String::from_utf8_lossy(&request.body).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no event reached the ingest server:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("database not connected"), "{body}");
    assert!(
        body.contains("integration"),
        "the environment is named: {body}"
    );
    assert!(!body.contains("hunter2"), "{body}");
    assert!(!body.contains(&"k".repeat(64)), "{body}");

    server.signal("TERM");
    assert_eq!(server.wait_exit(PATIENCE), 0);
    let logs = server.output();
    assert!(!logs.contains("hunter2"), "{logs}");
    drop(proxy);
    drop_database(db);
}

#[tokio::test]
async fn logs_carry_no_passwords_tokens_keys_or_emails() {
    let db = fresh_database().await;
    let outbox = std::env::temp_dir().join(format!(
        "vibecoding-outbox-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut server = Process::start("serve", |c| {
        c.env("DATABASE_URL", pg_url(&db))
            .env("RUST_LOG", "debug")
            .env("VIBECODING_JOBS__EMBEDDED", "true")
            .env("VIBECODING_JOBS__POLL_INTERVAL_MS", "50")
            .env("VIBECODING_MAIL__OUTBOX_DIR", &outbox);
    });
    server.wait_ready().await;
    let client = reqwest::Client::new();
    let graphql = |query: &'static str, variables: Value, token: Option<String>| {
        let mut request = client
            .post(server.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let password = "Sup3r-Secret-Passphrase";
    let email = "private.person@example.org";
    let body: Value = graphql(
        "mutation($i: RegisterInput!) { register(input: $i) { userErrors { field message code } token } }",
        serde_json::json!({ "i": { "username": "quiet_person", "email": email, "password": password } }),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = body["data"]["register"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    graphql(
        "mutation($i: LoginInput!) { login(input: $i) { userErrors { field message code } token } }",
        serde_json::json!({ "i": { "login": email, "password": "wrong one" } }),
        None,
    )
    .await
    .unwrap();
    // The embedded worker sends the two emails (to the outbox).
    let deadline = Instant::now() + PATIENCE;
    while std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0) < 2 {
        assert!(
            Instant::now() < deadline,
            "no email was sent:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // API keys need a confirmed email: confirm it through the link, as the member would.
    let confirmation = std::fs::read_dir(&outbox)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| crate::helpers::Mail::parse(&std::fs::read_to_string(e.path()).unwrap()))
        .find(|m| m.subject.contains("Confirm"))
        .expect("a confirmation email");
    let body: Value = graphql(
        "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { username } } }",
        serde_json::json!({ "t": confirmation.token("confirm-email") }),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        body["data"]["confirmEmail"]["user"]["username"], "quiet_person",
        "{body}"
    );
    let body: Value = graphql(
        "mutation { createApiKey(input: { description: \"ci\" }) { userErrors { field message code } key } }",
        Value::Null,
        Some(token.clone()),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = body["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    server.signal("TERM");
    assert_eq!(server.wait_exit(PATIENCE), 0);
    let logs = server.output();
    assert!(
        logs.contains("email written to the outbox"),
        "the run did log: {logs}"
    );
    for secret in [password, "wrong one", email, token.as_str(), key.as_str()] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
    let _ = std::fs::remove_dir_all(outbox);
    drop_database(db);
}

/// Waits for the first event the ingest server receives that contains `needle`.
async fn sentry_event(ingest: &MockServer, needle: &str, output: impl Fn() -> String) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let requests = ingest.received_requests().await.unwrap_or_default();
        if let Some(body) = requests
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .find(|b| b.contains(needle))
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "no event with {needle:?} reached the ingest server:\n{}",
            output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ingest_server() -> (MockServer, String) {
    let ingest = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/\d+/(envelope|store)/$"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&ingest)
        .await;
    let dsn = format!("http://publickey@127.0.0.1:{}/42", ingest.address().port());
    (ingest, dsn)
}

#[tokio::test]
async fn sentry_events_from_the_server_carry_the_request_id_and_operation_not_personal_data() {
    let (ingest, dsn) = ingest_server().await;
    let cloudinary = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({ "error": { "message": "General Error" } })),
        )
        .mount(&cloudinary)
        .await;
    let db = fresh_database().await;
    let server = Process::start("serve", |c| {
        c.env("DATABASE_URL", pg_url(&db))
            .env("SENTRY_DSN", &dsn)
            .env("CLOUDINARY_URL", "cloudinary://1234:cloud-secret-xyz@demo")
            .env("VIBECODING_UPLOADS__CLOUDINARY_API_BASE", cloudinary.uri());
    });
    server.wait_ready().await;
    let client = reqwest::Client::new();
    let registered: Value = client
        .post(server.url("/graphql"))
        .json(&serde_json::json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { userErrors { field message code } token } }",
            "variables": { "i": { "username": "grace", "email": "grace@example.com", "password": "very secret words" } }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["data"]["register"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let png = crate::uploads::png(8, 8);
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            serde_json::json!({ "query": "mutation UploadCover($f: Upload!) { uploadImage(input: { file: $f }) { userErrors { field message code } image { id } } }", "variables": { "f": null }, "operationName": "UploadCover" }).to_string(),
        )
        .text("map", r#"{"0":["variables.f"]}"#)
        .part("0", reqwest::multipart::Part::bytes(png).file_name("c.png"));
    let response = client
        .post(server.url("/graphql"))
        .bearer_auth(&token)
        .header("apollo-require-preflight", "1")
        .header("x-request-id", "req-sentry-check-1")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );

    let event = sentry_event(&ingest, "Cloudinary refused", || server.output()).await;
    assert!(
        event.contains(&request_id),
        "request id {request_id}: {event}"
    );
    assert!(event.contains("UploadCover"), "{event}");
    for secret in [
        &token,
        "grace@example.com",
        "very secret words",
        "cloud-secret-xyz",
    ] {
        assert!(!event.contains(secret), "{secret} in {event}");
    }
    drop(server);
    drop_database(db);
}

#[tokio::test]
async fn sentry_events_from_the_worker_name_the_job_not_personal_data() {
    let (ingest, dsn) = ingest_server().await;
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string("{\"errors\":[{\"message\":\"bad\"}]}"),
        )
        .mount(&sendgrid)
        .await;
    let db = fresh_database().await;
    let (code, _, err) = run(vibecoding()
        .arg("migrate")
        .env("APP_ENV", "test")
        .env("DATABASE_URL", pg_url(&db)));
    assert_eq!(code, 0, "{err}");
    let pool = sqlx::PgPool::connect(&pg_url(&db)).await.unwrap();
    let user = uuid::Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, username, email, name) VALUES ($1, 'hopper', 'hopper@example.com', 'Grace')")
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    vibecoding::jobs::enqueue(
        &mut conn,
        &vibecoding::jobs::Job::SendWelcome {
            user_id: user.into(),
        },
    )
    .await
    .unwrap();
    drop(conn);

    let worker = Process::start("worker", |c| {
        c.env("DATABASE_URL", pg_url(&db))
            .env("SENTRY_DSN", &dsn)
            .env("SENDGRID_API_KEY", "SG.worker-key-abc")
            .env("VIBECODING_MAIL__SENDGRID_BASE_URL", sendgrid.uri());
    });
    let event = sentry_event(&ingest, "job is dead", || worker.output()).await;
    assert!(event.contains("send_welcome"), "{event}");
    for secret in ["SG.worker-key-abc", "hopper@example.com"] {
        assert!(!event.contains(secret), "{secret} in {event}");
    }
    drop(worker);
    pool.close().await;
    drop_database(db);
}

#[tokio::test]
async fn operator_commands_secret_check_migrate_and_jobs() {
    let (code, out, _) = run(vibecoding().arg("secret"));
    assert_eq!(code, 0);
    let secret = out.trim();
    assert_eq!(secret.len(), 128);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    // As a platform that replaces the image's entrypoint runs it.
    let (code, again, _) = run(vibecoding().args(["vibecoding", "secret"]));
    assert_eq!(code, 0);
    assert_ne!(again.trim(), secret);

    // A database that does not exist yet: `migrate` creates it outside production.
    let db = format!("vibecoding_ops_{}", uuid::Uuid::new_v4().simple());
    let env = |c: &mut Command| {
        c.env("APP_ENV", "test").env("DATABASE_URL", pg_url(&db));
    };
    let mut create = vibecoding();
    env(create.args(["migrate", "--status"]));
    run(&mut create);
    let mut status = vibecoding();
    env(status.args(["migrate", "--status"]));
    let (code, out, err) = run(&mut status);
    assert_eq!(code, 0, "{err}");
    let state_count = |out: &str, state: &str| {
        out.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(state))
            .count()
    };
    let migrations = vibecoding::db::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert_eq!(state_count(&out, "pending"), migrations, "{out}");

    let mut check = vibecoding();
    env(check.args(["check", "all"]));
    let (code, out, _) = run(&mut check);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("database") && out.contains(&format!("{migrations} migrations pending")),
        "{out}"
    );
    assert!(out.contains("cache") && out.contains("PONG"), "{out}");

    let mut migrate = vibecoding();
    env(migrate.arg("migrate"));
    assert_eq!(run(&mut migrate).0, 0);
    let mut status = vibecoding();
    env(status.args(["migrate", "--status"]));
    let (_, out, _) = run(&mut status);
    assert_eq!(state_count(&out, "applied"), migrations, "{out}");

    // Revert every migration after the notifications one: their tables go, the rest stay.
    let later = vibecoding::db::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && m.version > 20261126050000)
        .count();
    let mut revert = vibecoding();
    env(revert.args(["migrate", "--revert", &later.to_string()]));
    let (code, out, err) = run(&mut revert);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("reverted")).count(),
        later,
        "{out}"
    );
    let pool = sqlx::PgPool::connect(&pg_url(&db)).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('reports', 'user_blocks', 'notifications')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, vec!["notifications".to_owned()]);
    let mut migrate = vibecoding();
    env(migrate.arg("migrate"));
    assert_eq!(run(&mut migrate).0, 0);

    // Dead jobs: listed, then purged.
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, last_error) VALUES ($1, 'send_welcome', '{}', 'dead', 8, 'gone')",
    )
    .bind(uuid::Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    let mut stats = vibecoding();
    env(stats.args(["jobs", "stats", "--json"]));
    let (_, out, _) = run(&mut stats);
    let stats: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats[0]["dead"], 1, "{stats}");
    let mut purge = vibecoding();
    env(purge.args(["jobs", "purge-dead"]));
    let (code, out, _) = run(&mut purge);
    assert_eq!(code, 0);
    assert!(out.contains("1 dead jobs deleted"), "{out}");
    pool.close().await;

    // A database that does not answer: check fails with a non-zero status.
    let mut down = vibecoding();
    down.args(["check", "database"]).env("APP_ENV", "test").env(
        "DATABASE_URL",
        format!("postgres://postgres@127.0.0.1:{}/x", free_port()),
    );
    let (code, out, _) = run(&mut down);
    assert_ne!(code, 0);
    assert!(out.contains("FAILED"), "{out}");
    drop_database(db);
}

#[tokio::test]
async fn smoke_runs_the_checklist_against_a_live_server() {
    let port = free_port();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options::default(), move |s| {
        s.port = port;
        s.app_domain = format!("127.0.0.1:{port}");
        s.app_protocol = "https://".to_owned();
    })
    .await;
    app.member("lin").await;
    let url = format!("http://127.0.0.1:{port}");
    // The server runs on this test's runtime: the command waits on another thread.
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(vibecoding().args([
            "smoke",
            "--url",
            &url,
            "--write",
            "--login",
            "lin",
            "--password",
            "correct horse battery",
        ]))
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    for check in [
        "health: app",
        "health: database",
        "health: cache",
        "homepage",
        "https redirect",
        "security headers",
        "API response time",
        "database query time",
        "redis latency",
        "user registration",
        "user login",
        "publish an article",
        "image upload",
        "delete the article",
        "delete the image",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(check))
            .unwrap_or_else(|| panic!("{check} missing:\n{out}"));
        assert!(line.contains("PASS"), "{line}\n{out}");
    }
    // It cleaned up after itself.
    assert_eq!(app.count("SELECT count(*) FROM articles").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM images").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE deleted_at IS NULL")
            .await,
        1
    );

    // Nothing listening: every check fails and the command says so.
    let (code, out, _) = run(vibecoding().args([
        "smoke",
        "--url",
        &format!("http://127.0.0.1:{}", free_port()),
    ]));
    assert_eq!(code, 1);
    assert!(out.contains("FAIL") && !out.contains("PASS"), "{out}");
}
