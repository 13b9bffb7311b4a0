//! Events between nodes through Redis, in process without it, and after Redis restarts.

use std::time::{Duration, Instant};

use crate::helpers::{Options, spawn_app_with};
use crate::proxy::Mode;

/// Publishes on `from` until `receiver` sees the payload (the listener subscribes
/// asynchronously), within 10 seconds.
async fn deliver_eventually(
    from: &vibecoding::pubsub::PubSub,
    receiver: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<str>>,
    payload: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = from.publish("comments:1", payload).await;
        if let Ok(Ok(got)) = tokio::time::timeout(Duration::from_millis(200), receiver.recv()).await
        {
            assert_eq!(&*got, payload);
            return;
        }
        assert!(Instant::now() < deadline, "{payload} never arrived");
    }
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_subscribers_on_another() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let p = prefix.clone();
    let a = spawn_app_with(Options::default(), move |s| s.redis.key_prefix = p).await;
    let p = prefix.clone();
    let b = spawn_app_with(
        Options {
            redis_proxy: true,
            ..Default::default()
        },
        move |s| s.redis.key_prefix = p,
    )
    .await;

    let mut on_b = b.state.pubsub.subscribe("comments:1");
    let mut other_channel = b.state.pubsub.subscribe("comments:2");
    deliver_eventually(&a.state.pubsub, &mut on_b, "hello from A").await;
    assert!(
        other_channel.try_recv().is_err(),
        "events stay on their channel"
    );

    // Redis goes away and comes back: B's listener reconnects and delivery resumes.
    let proxy = b.redis_proxy.as_ref().unwrap();
    proxy.set(Mode::Down);
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.set(Mode::Up);
    deliver_eventually(&a.state.pubsub, &mut on_b, "after the restart").await;
}

#[tokio::test]
async fn without_redis_the_hub_works_in_process() {
    let app = spawn_app_with(Options::default(), |s| s.redis_url = Some(String::new())).await;
    let mut first = app.state.pubsub.subscribe("comments:1");
    let mut second = app.state.pubsub.subscribe("comments:1");
    app.state
        .pubsub
        .publish("comments:1", "local")
        .await
        .unwrap();
    assert_eq!(&*first.recv().await.unwrap(), "local");
    assert_eq!(&*second.recv().await.unwrap(), "local");

    // A subscriber that falls behind loses the oldest events instead of growing memory.
    for i in 0..(vibecoding::pubsub::BUFFER + 10) {
        app.state
            .pubsub
            .publish("comments:1", &i.to_string())
            .await
            .unwrap();
    }
    match first.recv().await {
        Err(tokio::sync::broadcast::error::RecvError::Lagged(lost)) => assert_eq!(lost, 10),
        other => panic!("expected a lag report, got {other:?}"),
    }
}
