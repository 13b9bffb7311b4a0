//! The runbook's health checks, with their failure answers when Postgres or Redis is
//! unreachable or hangs, and the pool recovering by itself afterwards.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with, spawn_counting_app};
use crate::proxy::Mode;

async fn check(app: &TestApp, path: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = app.get(path).await;
    let status = response.status().as_u16();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    (status, response.json().await.unwrap(), started.elapsed())
}

#[tokio::test]
async fn all_three_answer_with_the_runbook_bodies_under_both_prefixes() {
    let app = spawn_app().await;
    for prefix in ["/api/v1/health_checks", "/api/health_checks"] {
        for (name, message) in [
            ("app", "App is up"),
            ("database", "Database connected"),
            ("cache", "Cache connected"),
        ] {
            let (status, body, _) = check(&app, &format!("{prefix}/{name}")).await;
            assert_eq!(status, 200, "{prefix}/{name}");
            assert_eq!(body, json!({ "message": message }));
        }
    }
}

#[tokio::test]
async fn postgres_down_or_hanging_fails_the_database_check_in_time_and_the_pool_recovers() {
    let app = spawn_counting_app().await;
    let proxy = app.db_proxy.as_ref().unwrap();
    assert_eq!(check(&app, "/api/v1/health_checks/database").await.0, 200);

    proxy.set(Mode::Down);
    let (status, body, took) = check(&app, "/api/v1/health_checks/database").await;
    assert_eq!(
        (status, body),
        (500, json!({ "message": "Database NOT connected!" }))
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // The app check and the GraphQL health query still answer.
    assert_eq!(check(&app, "/api/v1/health_checks/app").await.0, 200);
    let (status, body) = app
        .graphql("{ health { app database cache } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["health"],
        json!({ "app": "UP", "database": "DOWN", "cache": "UP" })
    );

    // Back up: no restart needed.
    proxy.set(Mode::Up);
    let (status, body, _) = check(&app, "/api/v1/health_checks/database").await;
    assert_eq!(
        (status, body),
        (200, json!({ "message": "Database connected" }))
    );

    proxy.set(Mode::Hang);
    let (status, body, took) = check(&app, "/api/v1/health_checks/database").await;
    assert_eq!(
        (status, body),
        (500, json!({ "message": "Database NOT connected!" }))
    );
    assert!(
        took < Duration::from_secs(2),
        "a hanging database took {took:?}"
    );

    proxy.set(Mode::Up);
    let mut recovered = false;
    for _ in 0..20 {
        if check(&app, "/api/v1/health_checks/database").await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "the pool did not recover after the database came back"
    );
}

#[tokio::test]
async fn redis_down_or_hanging_fails_the_cache_check_but_not_graphql_reads() {
    let app = spawn_app_with(
        Options {
            redis_proxy: true,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let proxy = app.redis_proxy.as_ref().unwrap();
    assert_eq!(check(&app, "/api/v1/health_checks/cache").await.0, 200);

    for mode in [Mode::Down, Mode::Hang] {
        proxy.set(mode);
        let (status, body, took) = check(&app, "/api/v1/health_checks/cache").await;
        assert_eq!(
            (status, body),
            (500, json!({ "message": "Cache NOT connected!" })),
            "{mode:?}"
        );
        assert!(took < Duration::from_secs(2), "{mode:?} took {took:?}");
        let (status, body) = app
            .graphql("{ health { app database cache } }", json!({}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["data"]["health"],
            json!({ "app": "UP", "database": "UP", "cache": "DOWN" })
        );
        assert_eq!(check(&app, "/api/v1/health_checks/database").await.0, 200);

        proxy.set(Mode::Up);
        let mut recovered = false;
        for _ in 0..20 {
            if check(&app, "/api/v1/health_checks/cache").await.0 == 200 {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(recovered, "Redis did not reconnect after {mode:?}");
    }
}

#[tokio::test]
async fn an_unreachable_redis_at_start_does_not_stop_the_server() {
    let app = spawn_app_with(Options::default(), |s| {
        s.redis_url = Some("redis://127.0.0.1:1".to_owned());
    })
    .await;
    assert_eq!(check(&app, "/api/v1/health_checks/cache").await.0, 500);
    let (status, body) = app
        .graphql("{ health { database cache } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["health"],
        json!({ "database": "UP", "cache": "DOWN" })
    );
}

#[tokio::test]
async fn an_empty_redis_url_runs_single_node_with_an_in_process_cache() {
    let app = spawn_app_with(Options::default(), |s| s.redis_url = Some(String::new())).await;
    let (status, body, _) = check(&app, "/api/v1/health_checks/cache").await;
    assert_eq!(
        (status, body),
        (200, json!({ "message": "Cache connected" }))
    );
    let (_, body) = app
        .graphql("{ health { cacheMode cache } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["health"],
        json!({ "cacheMode": "EMBEDDED", "cache": "UP" })
    );

    // The in-process store behaves like the Redis one.
    let cache = &app.state.cache;
    cache
        .set_ex("k", "v", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(
        cache
            .incr_window("n", Duration::from_secs(60))
            .await
            .unwrap()
            .0,
        1
    );
    assert_eq!(
        cache
            .incr_window("n", Duration::from_secs(60))
            .await
            .unwrap()
            .0,
        2
    );
}

#[tokio::test]
async fn the_redis_store_prefixes_keys_and_counts_windows_atomically() {
    let app = spawn_app().await;
    let cache = &app.state.cache;
    cache
        .set_ex("greeting", "hello", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        cache.get("greeting").await.unwrap().as_deref(),
        Some("hello")
    );
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("{}greeting", app.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(raw.as_deref(), Some("hello"));
    cache.delete("greeting").await.unwrap();
    assert_eq!(cache.get("greeting").await.unwrap(), None);

    let hits = futures_util::future::join_all(
        (0..20).map(|_| cache.incr_window("hits", Duration::from_secs(30))),
    )
    .await;
    let mut counts: Vec<u64> = hits.into_iter().map(|r| r.unwrap().0).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>());
    let (_, ttl) = cache
        .incr_window("hits", Duration::from_secs(30))
        .await
        .unwrap();
    assert!((1..=30).contains(&ttl));
}

#[tokio::test]
async fn the_health_check_token_guards_database_and_cache_but_not_app() {
    let token = "s3cret-health-token";
    // Loopback callers are exempt by default.
    let local = spawn_app_with(Options::default(), |s| {
        s.health_check_token = Some(token.into())
    })
    .await;
    assert_eq!(check(&local, "/api/v1/health_checks/database").await.0, 200);

    let app = spawn_app_with(Options::default(), |s| {
        s.health_check_token = Some(token.into());
        s.http.health_token_exempts_loopback = false;
    })
    .await;
    assert_eq!(check(&app, "/api/v1/health_checks/app").await.0, 200);
    for name in ["database", "cache"] {
        let (status, body, _) = check(&app, &format!("/api/v1/health_checks/{name}")).await;
        assert_eq!(status, 401, "{name}: {body}");
        let wrong = app
            .client
            .get(app.url(&format!("/api/v1/health_checks/{name}")))
            .header("health-check-token", "nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let right = app
            .client
            .get(app.url(&format!("/api/v1/health_checks/{name}")))
            .header("health-check-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200);
    }
}
