//! Subscriptions over `/graphql/ws` in both protocols, the origin check, and close frames
//! on shutdown.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Options, spawn_app, spawn_app_with, ws_handshake};

#[tokio::test]
async fn server_time_streams_in_both_protocols() {
    let app = spawn_app().await;
    for (protocol, data_type) in [("graphql-transport-ws", "next"), ("graphql-ws", "data")] {
        let mut ws = app.ws_connect(protocol, None).await;
        ws.subscribe("1", "subscription { serverTime(intervalMs: 100) }")
            .await;
        let mut times = Vec::new();
        for _ in 0..3 {
            let message = ws.next_json().await;
            assert_eq!(message["type"], data_type, "{protocol}: {message}");
            assert_eq!(message["id"], "1");
            let time = message["payload"]["data"]["serverTime"]
                .as_str()
                .unwrap()
                .to_owned();
            chrono::DateTime::parse_from_rfc3339(&time).unwrap();
            times.push(time);
        }
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        let stop = if protocol == "graphql-transport-ws" {
            "complete"
        } else {
            "stop"
        };
        ws.send(json!({ "id": "1", "type": stop })).await;
    }
}

#[tokio::test]
async fn subscription_errors_carry_codes() {
    let app = spawn_app().await;
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    ws.subscribe("bad", "subscription { serverTime(intervalMs: 5) }")
        .await;
    let message = ws.next_json().await;
    assert_eq!(
        (&message["id"], &message["type"]),
        (&json!("bad"), &json!("next")),
        "{message}"
    );
    let errors = &message["payload"]["errors"];
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{message}"
    );
    assert_eq!(errors[0]["extensions"]["field"], "intervalMs", "{message}");
    assert_eq!(ws.next_json().await["type"], "complete");

    ws.subscribe("invalid", "subscription { nope }").await;
    let message = ws.next_json().await;
    assert_eq!(message["id"], "invalid", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{message}"
    );
    assert_eq!(ws.next_json().await["type"], "complete");
}

#[tokio::test]
async fn origins_are_checked_on_upgrade() {
    let app = spawn_app_with(Options::default(), |s| {
        s.http.allowed_origins = vec!["https://frontend.example".to_owned()];
        s.app_domain = "community.example".to_owned();
    })
    .await;
    let url = app.ws_url();
    let refused = ws_handshake(&url, "graphql-transport-ws", Some("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!(
            "a foreign origin was let in: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    for origin in ["https://frontend.example", "http://community.example"] {
        app.ws_connect("graphql-transport-ws", Some(origin)).await;
    }
    // Without an Origin header (not a browser) the upgrade is allowed.
    app.ws_connect("graphql-ws", None).await;

    let no_protocol = ws_handshake(&url, "chat", None).await;
    match no_protocol {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!(
            "an unknown subprotocol was accepted: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
}

#[tokio::test]
async fn shutdown_closes_websockets_with_a_close_frame() {
    let mut app = spawn_app().await;
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    ws.subscribe("1", "subscription { serverTime(intervalMs: 100) }")
        .await;
    assert_eq!(ws.next_json().await["type"], "next");
    app.stop().await;
    loop {
        match ws.next_message().await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::Away);
                break;
            }
            Message::Text(_) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
