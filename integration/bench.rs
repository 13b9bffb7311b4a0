//! Benchmarks, run by `make bench` (ignored by `make test`): they time, they do not assert
//! speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{WsClient, ws_handshake};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One event to N subscribers on one node: a comment posted over HTTP, delivered to N
/// WebSocket connections subscribed to `commentAdded` (through Redis, re-read once per
/// event for all subscribers). Latency runs from sending the mutation to each subscriber
/// receiving the comment. `SUBSCRIBERS` (default 1000) and `EVENTS` (default 20) size it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench"]
async fn bench_event_fanout_to_subscribers() {
    let subscribers: usize = std::env::var("SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let events: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let app = spawn_app_with_room().await;
    let token = app.member("bench").await;
    let article = app.ok(Some(&token), "mutation { createArticle(input: { title: \"Bench\", bodyMarkdown: \"x\", published: true }) { id } }", json!({})).await["createArticle"]["id"].as_str().unwrap().to_owned();
    let query =
        format!("subscription {{ commentAdded(articleId: \"{article}\") {{ id bodyMarkdown }} }}");

    let received: Arc<Mutex<Vec<(usize, Instant)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(subscribers * events)));
    let mut readers = Vec::new();
    let opened = Instant::now();
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(100) {
        let clients = futures_util::future::join_all(chunk.iter().map(|_| async {
            let (socket, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
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
                    if let Message::Text(text) = message {
                        let value: Value = serde_json::from_str(&text).unwrap_or_default();
                        if let Some(body) =
                            value["payload"]["data"]["commentAdded"]["bodyMarkdown"].as_str()
                        {
                            let n: usize = body
                                .trim_start_matches("Event ")
                                .parse()
                                .unwrap_or(usize::MAX);
                            received.lock().await.push((n, Instant::now()));
                        }
                    }
                }
            }));
        }
    }
    eprintln!(
        "{subscribers} subscribers connected in {:.2}s",
        opened.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut sent = Vec::new();
    for n in 0..events {
        let started = Instant::now();
        app.ok(Some(&token), "mutation($a: ID!, $b: String!) { createComment(articleId: $a, bodyMarkdown: $b) { id } }", json!({ "a": article, "b": format!("Event {n}") })).await;
        sent.push(started);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = received.lock().await.clone();
    let mut latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(n, at)| sent.get(*n).map(|s| at.duration_since(*s)))
        .collect();
    latencies.sort();
    let expected = subscribers * events;
    eprintln!(
        "fan-out: {} of {expected} deliveries; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    assert_eq!(
        latencies.len(),
        expected,
        "every subscriber got every event"
    );
    for reader in readers {
        reader.abort();
    }
}

async fn spawn_app_with_room() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(crate::helpers::Options::default(), |s| {
        s.http.max_ws_per_ip = 100_000;
    })
    .await
}
