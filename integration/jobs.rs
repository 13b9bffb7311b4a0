//! The job queue and the worker against real Postgres: transactional enqueue, retries,
//! dead jobs, leases after kill -9, graceful stops, periodic jobs, and the mail transports.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use vibecoding::jobs::{self, Job};
use vibecoding::worker::Outcome;

use crate::helpers::{Options, TestApp, pg_url, spawn_app, spawn_app_with};
use crate::process::Process;

async fn sendgrid_app(server: &MockServer) -> TestApp {
    let uri = server.uri();
    spawn_app_with(Options::default(), move |s| {
        s.sendgrid_api_key = Some("SG.test-key".into());
        s.mail.sendgrid_base_url = uri;
        s.mail.from = "Vibecoding <hello@vibecoding.example>".to_owned();
        s.jobs.backoff_base_secs = 1;
    })
    .await
}

async fn mount(server: &MockServer, status: u16) {
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(
            ResponseTemplate::new(status).set_body_string("{\"errors\":[{\"message\":\"nope\"}]}"),
        )
        .mount(server)
        .await;
}

/// Makes every queued job due now.
async fn make_due(app: &TestApp) {
    sqlx::query("UPDATE jobs SET run_at = now() WHERE status = 'queued'")
        .execute(&app.state.db)
        .await
        .unwrap();
}

async fn job_rows(app: &TestApp) -> Vec<(String, String, i32, Option<String>, bool)> {
    sqlx::query_as(
        "SELECT kind, status, attempts, last_error, run_at > now() FROM jobs ORDER BY kind",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_job_exists_only_if_its_transaction_commits() {
    let app = spawn_app().await;
    let mut tx = app.state.db.begin().await.unwrap();
    jobs::enqueue(&mut tx, &Job::PurgeEmailTokens {})
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
    let mut tx = app.state.db.begin().await.unwrap();
    jobs::enqueue(&mut tx, &Job::PurgeEmailTokens {})
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(
        app.drain_jobs().await,
        vec![Outcome::Done {
            kind: "purge_email_tokens".into()
        }]
    );
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn sendgrid_requests_and_failures_retry_then_die_then_retry_by_hand() {
    let server = MockServer::start().await;
    let app = sendgrid_app(&server).await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.test-key"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    app.register("babbage").await;
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })),
        "{outcomes:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body["personalizations"][0]["to"][0]["email"],
            "babbage@example.com"
        );
        assert_eq!(
            body["from"],
            json!({ "email": "hello@vibecoding.example", "name": "Vibecoding" })
        );
        assert_eq!(body["content"][0]["type"], "text/plain");
        assert_eq!(body["content"][1]["type"], "text/html");
        assert!(body["subject"].as_str().unwrap().len() > 5);
    }

    // A 5xx and a 429 are retried later with backoff; a 4xx kills the job with the reason.
    app.register("lovelace").await;
    mount(&server, 503).await;
    let outcomes = app.drain_jobs().await;
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Retrying { .. })),
        "{outcomes:?}"
    );
    for (_, status, attempts, error, later) in job_rows(&app).await {
        assert_eq!((status.as_str(), attempts, later), ("queued", 1, true));
        assert!(error.unwrap().contains("503"));
    }
    assert!(
        app.drain_jobs().await.is_empty(),
        "not due before the backoff ends"
    );
    mount(&server, 429).await;
    make_due(&app).await;
    assert!(
        app.drain_jobs()
            .await
            .iter()
            .all(|o| matches!(o, Outcome::Retrying { .. }))
    );
    let stats = jobs::queue::stats(&app.state.db).await.unwrap();
    assert!(
        stats.iter().all(|s| s.failed == 1 && s.dead == 0),
        "{stats:?}"
    );

    mount(&server, 400).await;
    make_due(&app).await;
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Dead { error, .. } if error.contains("400"))),
        "{outcomes:?}"
    );
    let stats = jobs::queue::stats(&app.state.db).await.unwrap();
    assert!(
        stats.iter().all(|s| s.dead == 1 && s.failed == 0),
        "{stats:?}"
    );

    // Operators see and retry dead jobs from the command line.
    let cli = |args: &[&str]| {
        let output = crate::process::vibecoding()
            .args(args)
            .env("APP_ENV", "test")
            .env("DATABASE_URL", pg_url(&app.db_name))
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let stats: Value = serde_json::from_str(&cli(&["jobs", "stats", "--json"])).unwrap();
    assert_eq!(stats.as_array().unwrap().len(), 2);
    assert!(stats.as_array().unwrap().iter().all(|k| k["dead"] == 1));
    let table = cli(&["jobs", "stats"]);
    assert!(
        table.contains("send_welcome") && table.contains("dead"),
        "{table}"
    );
    let dead = cli(&["jobs", "dead"]);
    assert!(dead.contains("400"), "{dead}");
    assert!(cli(&["jobs", "retry", "--dead"]).contains("2 dead jobs queued again"));
    mount(&server, 202).await;
    assert_eq!(app.drain_jobs().await.len(), 2);
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);

    // A job that keeps failing dies after its last attempt.
    app.register("hollerith").await;
    sqlx::query("UPDATE jobs SET attempts = max_attempts - 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    mount(&server, 500).await;
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Dead { .. })),
        "{outcomes:?}"
    );
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM jobs LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(cli(&["jobs", "retry", &id.to_string()]).contains("queued again"));
    let output = crate::process::vibecoding()
        .args(["jobs", "retry", &uuid::Uuid::nil().to_string()])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", pg_url(&app.db_name))
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn concurrent_workers_run_each_job_exactly_once() {
    let server = MockServer::start().await;
    let app = sendgrid_app(&server).await;
    mount(&server, 202).await;
    let mut tx = app.state.db.begin().await.unwrap();
    for i in 0..30 {
        let id = uuid::Uuid::now_v7();
        sqlx::query("INSERT INTO users (id, username, email) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(format!("member_{i}"))
            .bind(format!("member{i}@example.com"))
            .execute(&mut *tx)
            .await
            .unwrap();
        jobs::enqueue(&mut tx, &Job::SendWelcome { user_id: id.into() })
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let worker = app.worker();
            tokio::spawn(async move {
                let mut done = 0;
                while let Some(outcome) = worker.try_execute_one(&["send_welcome"]).await.unwrap() {
                    assert!(matches!(outcome, Outcome::Done { .. }));
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert_eq!(total, 30);
    let requests = server.received_requests().await.unwrap();
    let mut recipients: Vec<String> = requests
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["personalizations"][0]["to"][0]["email"].as_str().unwrap().to_owned())
        .collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!((requests.len(), recipients.len()), (30, 30));
    // Welcome emails are sent once, even if the job is run again.
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    jobs::enqueue(
        &mut conn,
        &Job::SendWelcome {
            user_id: user_id.into(),
        },
    )
    .await
    .unwrap();
    drop(conn);
    app.drain_jobs().await;
    assert_eq!(server.received_requests().await.unwrap().len(), 30);
}

/// The worker as its own process, mailing through `server`.
fn start_worker(app: &TestApp, server: &MockServer, extra: &[(&str, &str)]) -> Process {
    Process::start("worker", |command| {
        command
            .env("DATABASE_URL", pg_url(&app.db_name))
            .env("SENDGRID_API_KEY", "SG.test-key")
            .env("VIBECODING_MAIL__SENDGRID_BASE_URL", server.uri())
            .env("VIBECODING_JOBS__POLL_INTERVAL_MS", "50");
        for (k, v) in extra {
            command.env(k, v);
        }
    })
}

async fn wait_for_requests(server: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.received_requests().await.unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "the worker never called SendGrid"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn one_welcome_job(app: &TestApp) {
    let id = uuid::Uuid::now_v7();
    let mut tx = app.state.db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO users (id, username, email) VALUES ($1, 'slow_mail', 'slow@example.com')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    jobs::enqueue(&mut tx, &Job::SendWelcome { user_id: id.into() })
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing() {
    let server = MockServer::start().await;
    let app = sendgrid_app(&server).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(60)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .with_priority(2)
        .mount(&server)
        .await;
    one_welcome_job(&app).await;

    let mut worker = start_worker(&app, &server, &[("VIBECODING_JOBS__LEASE_SECS", "2")]);
    wait_for_requests(&server, 1).await;
    worker.signal("KILL");
    assert!(worker.exited_within(Duration::from_secs(5)).is_some());
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE status = 'running'")
            .await,
        1
    );
    // While the dead worker's lease lasts, nobody else takes the job.
    assert!(app.drain_jobs().await.is_empty());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        app.drain_jobs().await,
        vec![Outcome::Done {
            kind: "send_welcome".into()
        }]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn sigterm_lets_running_jobs_finish_or_hands_them_back() {
    let server = MockServer::start().await;
    let app = sendgrid_app(&server).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    one_welcome_job(&app).await;
    let mut worker = start_worker(&app, &server, &[]);
    wait_for_requests(&server, 1).await;
    worker.signal("TERM");
    assert_eq!(worker.exited_within(Duration::from_secs(15)), Some(0));
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        0,
        "the running job finished"
    );

    // A job longer than the shutdown timeout is handed back, as if it had not started.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    sqlx::query("UPDATE users SET welcome_sent_at = NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    jobs::enqueue(
        &mut conn,
        &Job::SendWelcome {
            user_id: user_id.into(),
        },
    )
    .await
    .unwrap();
    drop(conn);
    let mut worker = start_worker(
        &app,
        &server,
        &[("VIBECODING_JOBS__SHUTDOWN_TIMEOUT_SECS", "1")],
    );
    wait_for_requests(&server, 1).await;
    worker.signal("TERM");
    assert_eq!(worker.exited_within(Duration::from_secs(15)), Some(0));
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM jobs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("queued", 0));
}

#[tokio::test]
async fn periodic_jobs_fire_once_per_slot_across_workers() {
    let app = spawn_app().await;
    app.worker().fire_due_schedules().await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        0,
        "the first run only starts the clock"
    );
    sqlx::query("UPDATE job_schedules SET last_run_at = now() - interval '2 hours'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let workers: Vec<_> = (0..4).map(|_| app.worker()).collect();
    let results =
        futures_util::future::join_all(workers.iter().map(|w| w.fire_due_schedules())).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE kind = 'purge_email_tokens'")
            .await,
        1
    );

    // The purge removes used and long-expired tokens.
    app.register("pascal").await;
    app.drain_jobs().await;
    sqlx::query("UPDATE email_tokens SET used_at = now()")
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    jobs::enqueue(&mut conn, &Job::PurgeEmailTokens {})
        .await
        .unwrap();
    drop(conn);
    app.drain_jobs().await;
    assert_eq!(app.count("SELECT count(*) FROM email_tokens").await, 0);
}

#[tokio::test]
async fn serve_runs_an_embedded_worker_when_asked() {
    let app = spawn_app_with(Options::default(), |s| s.jobs.embedded = Some(true)).await;
    app.register("embedded").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.emails().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the embedded worker sent nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Just enough of an SMTP server to accept messages and keep them.
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap_or_default()).unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn smtp_delivers_when_configured() {
    let (port, mut received) = smtp_sink().await;
    let app = spawn_app_with(Options::default(), move |s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await;
    app.register("ritchie").await;
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })),
        "{outcomes:?}"
    );
    let mut messages = Vec::new();
    for _ in 0..2 {
        messages.push(
            tokio::time::timeout(Duration::from_secs(5), received.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(
        messages
            .iter()
            .all(|m| m.contains("To: ritchie@example.com")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("Subject: Welcome")));
    assert!(app.emails().is_empty(), "nothing went to the outbox");
}

#[tokio::test]
async fn scheduled_jobs_wait_for_their_time() {
    let app = spawn_app().await;
    let mut conn = app.state.db.acquire().await.unwrap();
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    jobs::enqueue_at(&mut conn, &Job::PurgeEmailTokens {}, Some(at))
        .await
        .unwrap();
    drop(conn);
    assert!(app.drain_jobs().await.is_empty());
    let stats = jobs::queue::stats(&app.state.db).await.unwrap();
    assert_eq!((stats[0].scheduled, stats[0].queued), (1, 0));
    make_due(&app).await;
    assert_eq!(app.drain_jobs().await.len(), 1);
}

#[tokio::test]
async fn a_lost_lease_is_never_recorded_twice() {
    use vibecoding::jobs::queue::{self, Lease};
    let app = spawn_app().await;
    let db = &app.state.db;
    let mut conn = db.acquire().await.unwrap();
    let id = jobs::enqueue(&mut conn, &Job::PurgeEmailTokens {})
        .await
        .unwrap();
    drop(conn);
    let kinds = &["purge_email_tokens"];
    // One worker claims it with a short lease and stalls past it.
    let first = queue::claim(db, "w1", kinds, Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The same worker's other loop claims it again (a later attempt), and so could another.
    let second = queue::claim(db, "w1", kinds, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.id, second.id), (id, id));
    let stale = Lease {
        id,
        worker: "w1",
        attempt: first.attempts,
    };
    let current = Lease {
        id,
        worker: "w1",
        attempt: second.attempts,
    };
    // The stalled attempt can neither renew, nor finish, nor fail the job.
    assert!(
        !queue::renew(db, stale, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(!queue::complete(db, stale).await.unwrap());
    queue::bury(db, stale, "late").await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE status = 'running'")
            .await,
        1
    );
    // The current one completes it, once.
    assert!(queue::complete(db, current).await.unwrap());
    assert!(!queue::complete(db, current).await.unwrap());
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
}
