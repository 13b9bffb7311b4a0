//! `/metrics`: who may scrape it, and what it counts.

use serde_json::json;
use vibecoding::config::Rule;

use crate::helpers::{Options, code, free_port, spawn_app, spawn_app_with};

async fn scrape(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn has(text: &str, prefix: &str) -> bool {
    text.lines().any(|l| l.starts_with(prefix))
}

#[tokio::test]
async fn metrics_need_the_token_and_count_requests_operations_and_state() {
    let app = spawn_app_with(Options::default(), |s| {
        s.metrics_token = Some("scrape-me".to_owned().into());
        s.rate_limits.enabled = true;
        s.rate_limits.login_per_ip = Rule::new(1, 600);
    })
    .await;
    let url = app.url("/metrics");
    assert_eq!(scrape(&app.client, &url, None).await.0, 401);
    assert_eq!(scrape(&app.client, &url, Some("wrong")).await.0, 401);

    app.register("ada").await;
    app.ok(
        None,
        "query Front { articles(first: 5) { edges { node { title } } } }",
        json!({}),
    )
    .await;
    let (_, body) = app
        .graphql("query Broken { node(id: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let login = "mutation SignIn($i: LoginInput!) { login(input: $i) { userErrors { field message code } token } }";
    for _ in 0..2 {
        app.graphql(
            login,
            json!({ "i": { "login": "ada", "password": "nope nope nope" } }),
        )
        .await;
    }
    let mut socket = app.ws_connect("graphql-transport-ws", None).await;
    socket
        .subscribe("1", "subscription { serverTime(intervalMs: 1000) }")
        .await;
    socket.next_json().await;

    let (status, text) = scrape(&app.client, &url, Some("scrape-me")).await;
    assert_eq!(status, 200);
    for line in [
        "http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}",
        "http_request_duration_seconds_bucket{route=\"/graphql\"",
        "graphql_operations_total{operation=\"Front\",type=\"query\"}",
        "graphql_operation_duration_seconds_bucket{operation=\"Front\",type=\"query\"",
        "graphql_errors_total{operation=\"Broken\",code=\"BAD_USER_INPUT\"}",
        "graphql_operations_total{operation=\"SignIn\",type=\"mutation\"}",
        "rate_limit_refusals_total{action=\"login_per_ip\"}",
        "db_pool_connections{state=\"idle\"}",
        "db_pool_max_connections",
        "redis_up 1",
        "jobs{kind=\"send_welcome\",status=\"queued\"}",
        "websocket_connections",
        "graphql_subscriptions",
    ] {
        assert!(has(&text, line), "no {line} in\n{text}");
    }
    let open: f64 = text
        .lines()
        .find(|l| l.starts_with("websocket_connections "))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(open >= 1.0, "{open}");
    // No member data in labels.
    assert!(!text.contains("ada@example.com") && !text.contains("nope nope"));
}

#[tokio::test]
async fn without_a_token_only_loopback_scrapes_and_a_metrics_port_moves_them() {
    let app = spawn_app().await;
    let (status, _) = scrape(&app.client, &app.url("/metrics"), None).await;
    assert_eq!(status, 200, "loopback callers may scrape without a token");

    let port = free_port();
    let app = spawn_app_with(Options::default(), move |s| s.metrics.port = Some(port)).await;
    assert_eq!(scrape(&app.client, &app.url("/metrics"), None).await.0, 404);
    let (status, text) = scrape(
        &app.client,
        &format!("http://127.0.0.1:{port}/metrics"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(has(&text, "db_pool_max_connections"), "{text}");
}
