//! `/graphql/ws`: subscriptions over WebSocket, in both the `graphql-transport-ws` and the
//! legacy `graphql-ws` protocols. Browser upgrades must come from an allowed origin, and
//! on shutdown every socket gets a close frame (1001, going away).
//!
//! A socket is held to its credential for as long as it is open:
//! - `connection_init` must come within `http.ws_init_timeout_secs` (else 4408);
//! - every operation it starts is authorised again against the credential's current
//!   state; a revoked or expired credential closes the socket (4401), a changed standing
//!   (role, suspension, confirmed email) closes it so the client connects again as what
//!   the member now is (4000);
//! - when a session or key goes, or the member's standing changes, on any node (Postgres
//!   notifies every node, see [`crate::pubsub::PubSub::with_database_listener`]), the
//!   member's sockets check their credential at once, and close the same way; a session
//!   socket closes when its session expires;
//! - messages are at most `http.ws_max_message_bytes` (else 1009), and a socket is pinged
//!   every `http.ws_ping_interval_secs` and closed once it has been silent for two.

use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_graphql::Data as GqlData;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use futures_util::{SinkExt as _, StreamExt as _, future};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig};
use poem::{IntoResponse, Request, Response, handler};
use tokio::sync::broadcast;

use crate::domain::accounts::Viewer;
use crate::error::AppError;
use crate::graphql::api::Api;
use crate::graphql::api::SubscriptionCount;
use crate::graphql::context::Auth;
use crate::graphql::guard::Transport;
use crate::graphql::loaders::Loaders;
use crate::http::auth::{self, Credential};
use crate::http::ws_limits::{Counters, OpenSocket, Slot};

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
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
    Data(slots): Data<&Counters>,
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
    let Some(ip_slot) = slots.acquire(format!("ip:{ip}"), limits.max_ws_per_ip) else {
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
    let api = api.clone();
    let state = state.clone();
    let slots = slots.clone();
    let guard = state.connections.token();
    let max = state.settings.http.ws_max_message_bytes;
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(
            // Small buffers: a connection mostly waits, and tungstenite's default read
            // buffer (128 KiB, allocated up front) was most of an idle subscriber's memory.
            WebSocketConfig::default()
                .read_buffer_size(4 * 1024)
                .write_buffer_size(0)
                .max_message_size(Some(max))
                .max_frame_size(Some(max)),
        )
        .on_upgrade(move |socket| async move {
            let open = OpenSocket::open();
            serve(socket, api, protocol, data, state, cookie, slots).await;
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

/// Why a socket is being closed: the code and reason of its close frame.
type Closing = (u16, &'static str);

const REVOKED: Closing = (
    4401,
    "The credential of this connection was revoked or has expired",
);
const CHANGED: Closing = (4000, "Your account changed; connect again");
const UNAVAILABLE: Closing = (1011, "Your credential could not be checked; connect again");
const INIT_TIMEOUT: Closing = (4408, "Connection initialisation timeout");
const TOO_BIG: Closing = (1009, "The message is too big");
const IDLE: Closing = (1001, "The connection was idle");

/// What the protocol handler and the socket loop share about one connection.
#[derive(Default)]
struct Shared {
    /// `connection_init` has been answered.
    initialised: AtomicBool,
    /// The credential and who it was authorised as (signed-in connections only).
    authorised: Mutex<Option<(Credential, Viewer)>>,
    /// The member's credential changes, until the socket loop takes it.
    changes: Mutex<Option<broadcast::Receiver<Arc<str>>>>,
    /// Set by whoever decides the socket must close.
    closing: Mutex<Option<Closing>>,
    /// When the client last sent anything (pongs included).
    last_seen: Mutex<Option<Instant>>,
}

impl Shared {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close_with(&self, closing: Closing) {
        Self::lock(&self.closing).get_or_insert(closing);
    }

    fn touch(&self) {
        *Self::lock(&self.last_seen) = Some(Instant::now());
    }

    fn silent_for(&self) -> Duration {
        Self::lock(&self.last_seen).map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Checks the connection's credential against its current state: `Err` with how to
    /// close when it no longer holds.
    async fn reauthorise(&self, state: &AppState) -> Result<(), Closing> {
        let Some((credential, viewer)) = Self::lock(&self.authorised).clone() else {
            return Ok(());
        };
        match auth::authenticate_fresh(state, &credential).await {
            Ok(now) if now.same_standing(&viewer) => Ok(()),
            Ok(_) => Err(CHANGED),
            Err(AppError::Unauthenticated(_)) => Err(REVOKED),
            Err(e) => {
                tracing::warn!(error = %e, "a WebSocket credential could not be checked");
                Err(UNAVAILABLE)
            }
        }
    }
}

/// Authenticates a connection from its `connection_init` payload, or else its cookie. An
/// invalid credential refuses the connection.
async fn connection_auth(
    state: AppState,
    payload: serde_json::Value,
    cookie: Option<String>,
    shared: Arc<Shared>,
    slots: Counters,
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
    if let (Some(viewer), Some(credential)) = (&viewer, credential) {
        let slot = slots
            .acquire(
                format!("member:{}", viewer.user_id),
                state.settings.http.max_ws_per_member,
            )
            .ok_or_else(|| AppError::RateLimited {
                message: "Too many open connections for this member".to_owned(),
                retry_after: 30,
            })?;
        data.insert(MemberSlot(slot));
        *Shared::lock(&shared.changes) = Some(
            state
                .pubsub
                .subscribe(&crate::events::credentials(viewer.user_id)),
        );
        *Shared::lock(&shared.authorised) = Some((credential, viewer.clone()));
    }
    data.insert(Loaders::new(
        &state.db,
        &state.settings,
        viewer.as_ref().map(|v| v.user_id),
    ));
    data.insert(Auth(viewer));
    // A mutation over the socket that ends its credential signs the whole connection out.
    data.insert(crate::graphql::context::CredentialEnded::default());
    shared.initialised.store(true, Ordering::Release);
    Ok(data)
}

/// Whether a client message starts an operation (`subscribe`, or `start` in the legacy
/// protocol).
fn starts_operation(message: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Kind<'_>>(message)
        .ok()
        .and_then(|k| k.kind)
        .is_some_and(|k| k == "subscribe" || k == "start")
}

/// Resolves when the credential's session expires (never for API keys and anonymous
/// connections, or before `connection_init`).
async fn expiry(shared: &Shared) {
    let expires = Shared::lock(&shared.authorised)
        .as_ref()
        .and_then(|(_, v)| v.expires_at);
    match expires.and_then(|at| (at - chrono::Utc::now()).to_std().ok()) {
        Some(left) => tokio::time::sleep(left).await,
        None if expires.is_some() => {}
        None => std::future::pending::<()>().await,
    }
}

/// The next credential change, when the connection follows one.
async fn next_change(changes: &mut Option<broadcast::Receiver<Arc<str>>>) {
    match changes {
        Some(receiver) => match receiver.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => {
                *changes = None;
                std::future::pending::<()>().await;
            }
        },
        None => std::future::pending::<()>().await,
    }
}

async fn serve<S>(
    socket: S,
    api: Api,
    protocol: WebSocketProtocols,
    data: GqlData,
    state: AppState,
    cookie: Option<String>,
    slots: Counters,
) where
    S: futures_util::Stream<Item = Result<Message, std::io::Error>>
        + futures_util::Sink<Message>
        + Send
        + 'static,
{
    let shared = Arc::new(Shared::default());
    shared.touch();
    let (mut sink, stream) = socket.split();
    let input = {
        let (seen, gate, state) = (shared.clone(), shared.clone(), state.clone());
        stream
            .take_while(move |msg| {
                if let Err(e) = msg {
                    if e.to_string().contains("too long") {
                        seen.close_with(TOO_BIG);
                    }
                } else {
                    seen.touch();
                }
                future::ready(msg.is_ok())
            })
            .filter_map(|msg| {
                future::ready(match msg {
                    Ok(m) if m.is_text() || m.is_binary() => Some(m.into_bytes()),
                    _ => None,
                })
            })
            // Each operation is authorised against the credential as it is now.
            .then(move |message| {
                let (gate, state) = (gate.clone(), state.clone());
                async move {
                    if starts_operation(&message)
                        && let Err(closing) = gate.reauthorise(&state).await
                    {
                        gate.close_with(closing);
                        return None;
                    }
                    Some(message)
                }
            })
            .take_while(|message| future::ready(message.is_some()))
            .filter_map(future::ready)
    };
    let output = async_graphql::http::WebSocket::new(api, input, protocol)
        .connection_data(data)
        .on_connection_init({
            let (state, shared) = (state.clone(), shared.clone());
            move |payload| connection_auth(state, payload, cookie, shared, slots)
        });
    futures_util::pin_mut!(output);
    let mut shutdown = state.shutdown.clone();
    if *shutdown.borrow() {
        let _ = sink
            .send(Message::close_with(CloseCode::Away, "server shutting down"))
            .await;
        return;
    }
    let settings = &state.settings.http;
    let init_deadline = tokio::time::sleep(Duration::from_secs(settings.ws_init_timeout_secs));
    tokio::pin!(init_deadline);
    let ping_every = Duration::from_secs(settings.ws_ping_interval_secs.max(1));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut changes: Option<broadcast::Receiver<Arc<str>>> = None;
    let closing = loop {
        if changes.is_none() {
            changes = Shared::lock(&shared.changes).take();
        }
        tokio::select! {
            message = output.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::close_with(code, reason)).await;
                    break None;
                }
                // The input ended: the client went, or a check decided to close.
                None => break *Shared::lock(&shared.closing),
            },
            () = &mut init_deadline, if !shared.initialised.load(Ordering::Acquire) => {
                break Some(INIT_TIMEOUT);
            }
            _ = ping.tick() => {
                if shared.silent_for() > 2 * ping_every {
                    break Some(IDLE);
                }
                if sink.send(Message::Ping(Vec::new())).await.is_err() {
                    break None;
                }
            }
            () = next_change(&mut changes) => {
                if let Err(closing) = shared.reauthorise(&state).await {
                    break Some(closing);
                }
            }
            () = expiry(&shared) => break Some(REVOKED),
            _ = shutdown.changed() => {
                let _ = sink.send(Message::close_with(CloseCode::Away, "server shutting down")).await;
                let _ = sink.close().await;
                break None;
            }
        }
    };
    if let Some((code, reason)) = closing {
        let _ = sink.send(Message::close_with(code, reason)).await;
        let _ = sink.close().await;
    }
}
