//! `/graphql/ws`: subscriptions over WebSocket, in both the `graphql-transport-ws` and the
//! legacy `graphql-ws` protocols. Browser upgrades must come from an allowed origin, and
//! on shutdown every socket gets a close frame (1001, going away).

use std::str::FromStr as _;

use async_graphql::Data as GqlData;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use futures_util::{SinkExt as _, StreamExt as _, future};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::web::websocket::{CloseCode, Message, WebSocket};
use poem::{IntoResponse, Request, Response, handler};

use crate::error::AppError;
use crate::graphql::AppSchema;
use crate::graphql::context::Auth;
use crate::graphql::guard::Transport;
use crate::graphql::loaders::Loaders;
use crate::http::auth::{self, Credential};
use crate::http::ws_limits::{Slot, SubscriptionCount};

/// Holds the member's connection slot for the life of the connection (connection data).
struct MemberSlot(#[allow(dead_code)] Slot);
use crate::http::json_response;
use crate::http::request_id::RequestId;
use crate::state::AppState;

fn forbidden(message: &str) -> Response {
    json_response(
        StatusCode::FORBIDDEN,
        &serde_json::json!({ "message": message }),
    )
}

#[handler]
pub async fn upgrade(
    req: &Request,
    ws: WebSocket,
    Data(schema): Data<&AppSchema>,
    Data(state): Data<&AppState>,
) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| state.origin_allowed(o));
        if !allowed {
            return forbidden("This origin may not open a WebSocket here");
        }
    }
    let protocol = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| {
            list.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({
                "message": "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws"
            }),
        );
    };
    let client = auth::client_info(req, &state.settings);
    let limits = &state.settings.http;
    let ip = client.ip.clone().unwrap_or_default();
    let Some(ip_slot) = state
        .ws_slots
        .acquire(format!("ip:{ip}"), limits.max_ws_per_ip)
    else {
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "message": "Too many WebSocket connections from this address" }),
        );
    };
    let mut data = GqlData::default();
    data.insert(client);
    data.insert(Transport::WebSocket);
    data.insert(SubscriptionCount::default());
    if let Some(id) = req.extensions().get::<RequestId>() {
        data.insert(id.clone());
    }
    let cookie = auth::cookie_value(req.headers(), &state.settings.auth.cookie_name);
    let schema = schema.clone();
    let state = state.clone();
    let guard = state.connections.token();
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let open = crate::http::ws_limits::OpenSocket::open();
            serve(socket, schema, protocol, data, state, cookie).await;
            drop(open);
            drop(ip_slot);
            drop(guard);
        })
        .into_response()
}

/// The credential in a `connection_init` payload: `{"authorization": "Bearer <token>"}`,
/// `{"token": "<token>"}` or `{"apiKey": "<key>"}` (header-style names are accepted too).
fn payload_credential(payload: &serde_json::Value) -> Result<Option<Credential>, AppError> {
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| payload.get(*n).and_then(|v| v.as_str()))
            .map(str::trim)
    };
    if let Some(value) = field(&["authorization", "Authorization"]) {
        return auth::bearer(value).map(Some);
    }
    if let Some(token) = field(&["token"]) {
        return Ok(Some(Credential::Bearer(token.to_owned())));
    }
    if let Some(key) = field(&["apiKey", "api-key"]) {
        return Ok(Some(Credential::ApiKey(key.to_owned())));
    }
    Ok(None)
}

/// Authenticates a connection from its `connection_init` payload, or else its cookie. An
/// invalid credential refuses the connection.
async fn connection_auth(
    state: AppState,
    payload: serde_json::Value,
    cookie: Option<String>,
) -> async_graphql::Result<GqlData> {
    let credential = match payload_credential(&payload)? {
        Some(c) => Some(c),
        None => cookie.map(Credential::Cookie),
    };
    let viewer = match &credential {
        Some(credential) => Some(auth::authenticate(&state, credential).await?),
        None => None,
    };
    let mut data = GqlData::default();
    if let Some(viewer) = &viewer {
        let slot = state
            .ws_slots
            .acquire(
                format!("member:{}", viewer.user_id),
                state.settings.http.max_ws_per_member,
            )
            .ok_or_else(|| AppError::RateLimited {
                message: "Too many open connections for this member".to_owned(),
                retry_after: 30,
            })?;
        data.insert(MemberSlot(slot));
    }
    data.insert(Loaders::new(
        &state.db,
        &state.settings,
        viewer.as_ref().map(|v| v.user_id),
    ));
    data.insert(Auth(viewer));
    Ok(data)
}

async fn serve<S>(
    socket: S,
    schema: AppSchema,
    protocol: WebSocketProtocols,
    data: GqlData,
    state: AppState,
    cookie: Option<String>,
) where
    S: futures_util::Stream<Item = Result<Message, std::io::Error>>
        + futures_util::Sink<Message>
        + Send
        + 'static,
{
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|msg| future::ready(msg.is_ok()))
        .filter_map(|msg| {
            future::ready(match msg {
                Ok(m) if m.is_text() || m.is_binary() => Some(m.into_bytes()),
                _ => None,
            })
        });
    let output = async_graphql::http::WebSocket::new(schema, input, protocol)
        .connection_data(data)
        .on_connection_init({
            let state = state.clone();
            move |payload| connection_auth(state, payload, cookie)
        });
    futures_util::pin_mut!(output);
    let mut shutdown = state.shutdown.clone();
    if *shutdown.borrow() {
        let _ = sink
            .send(Message::close_with(CloseCode::Away, "server shutting down"))
            .await;
        return;
    }
    loop {
        tokio::select! {
            message = output.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::close_with(code, reason)).await;
                    break;
                }
                None => break,
            },
            _ = shutdown.changed() => {
                let _ = sink.send(Message::close_with(CloseCode::Away, "server shutting down")).await;
                let _ = sink.close().await;
                break;
            }
        }
    }
}
