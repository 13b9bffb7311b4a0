//! `spawn_app()`: the real server on a random port, with a fresh database cloned from a
//! migrated template and its own Redis key prefix, both removed when the test ends (even
//! after a panic).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _, PgConnection};
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use vibecoding::config::{AppEnv, Settings};
use vibecoding::startup::Application;
use vibecoding::state::AppState;

use crate::proxy::Proxy;

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const PG_ADDR: &str = "127.0.0.1:5432";
pub const REDIS_ADDR: &str = "127.0.0.1:6379";

pub fn pg_url(db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A migrated database that test databases are cloned from; rebuilt when the migrations
/// change (its name carries their checksum).
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut digest = String::new();
            for m in vibecoding::db::MIGRATOR.iter() {
                digest.push_str(&format!("{}{}", m.version, hex(&m.checksum)));
            }
            let hash = {
                use std::hash::{Hash as _, Hasher as _};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                digest.hash(&mut h);
                format!("{:016x}", h.finish())
            };
            let name = format!("vibecoding_test_template_{hash}");
            let mut admin = PgConnection::connect(PG_ADMIN_URL).await.unwrap();
            // One process builds it; the others wait on the lock and find it built.
            admin
                .execute("SELECT pg_advisory_lock(774411)")
                .await
                .unwrap();
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if !exists {
                let building = format!("{name}_building");
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
                    )))
                    .await
                    .unwrap();
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
                    .await
                    .unwrap();
                let pool = sqlx::PgPool::connect(&pg_url(&building)).await.unwrap();
                vibecoding::db::migrate(&pool).await.unwrap();
                pool.close().await;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "ALTER DATABASE {building} RENAME TO {name}"
                    )))
                    .await
                    .unwrap();
            }
            admin
                .execute("SELECT pg_advisory_unlock(774411)")
                .await
                .unwrap();
            admin.close().await.unwrap();
            name
        })
        .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh, migrated database for one test.
pub async fn fresh_database() -> String {
    let template = template().await;
    let name = format!("vibecoding_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(PG_ADMIN_URL).await.unwrap();
    for attempt in 0.. {
        let created = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await;
        match created {
            Ok(_) => break,
            // Another test is cloning the template at this instant.
            Err(_) if attempt < 50 => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("cannot create a test database: {e}"),
        }
    }
    admin.close().await.unwrap();
    name
}

/// Drops a test database from any context, runtime or not.
pub fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(mut admin) = PgConnection::connect(PG_ADMIN_URL).await {
                let _ = admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await;
            }
        });
    })
    .join();
}

#[derive(Default)]
pub struct Options {
    /// Run as a second node on this database and Redis key prefix (which it leaves to the
    /// first node to clean up).
    pub share_with: Option<(String, String)>,
    /// Route the server's Postgres connections through a proxy the test controls.
    pub db_proxy: bool,
    /// Route the server's Redis connection through a proxy the test controls.
    pub redis_proxy: bool,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub db_name: String,
    pub redis_prefix: String,
    pub outbox: std::path::PathBuf,
    owns_database: bool,
    pub state: AppState,
    pub db_proxy: Option<Proxy>,
    pub redis_proxy: Option<Proxy>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test server: test environment, random port, loopback only.
pub fn test_settings(db_name: &str) -> Settings {
    let mut settings = Settings {
        app_env: AppEnv::Test,
        host: [127, 0, 0, 1].into(),
        port: 0,
        database_url: Some(SecretString::from(pg_url(db_name))),
        ..Settings::default()
    };
    settings.redis.key_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    settings.http.shutdown_timeout_secs = 5;
    settings.mail.outbox_dir = std::env::temp_dir().join(format!(
        "vibecoding-outbox-{}",
        uuid::Uuid::new_v4().simple()
    ));
    // Limits are the subject of their own tests, which switch them on.
    settings.rate_limits.enabled = false;
    settings.uploads.dir = std::env::temp_dir().join(format!(
        "vibecoding-uploads-{}",
        uuid::Uuid::new_v4().simple()
    ));
    settings.search.index_dir = std::env::temp_dir().join(format!(
        "vibecoding-search-{}",
        uuid::Uuid::new_v4().simple()
    ));
    // Tests run from the package root, where `make assets` installs the playground.
    settings.http.assets_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web/node_modules").into();
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default(), |_| {}).await
}

/// A server whose Postgres statements are counted ([`TestApp::statements`]).
pub async fn spawn_counting_app() -> TestApp {
    let options = Options {
        db_proxy: true,
        ..Options::default()
    };
    spawn_app_with(options, |_| {}).await
}

pub async fn spawn_app_with(options: Options, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let owns_database = options.share_with.is_none();
    let db_name = match &options.share_with {
        Some((db, _)) => db.clone(),
        None => fresh_database().await,
    };
    let mut settings = test_settings(&db_name);
    if let Some((_, prefix)) = &options.share_with {
        settings.redis.key_prefix = prefix.clone();
    }
    let db_proxy = if options.db_proxy {
        let proxy = Proxy::start(PG_ADDR.parse().unwrap()).await;
        settings.database_url = Some(SecretString::from(format!(
            "postgres://postgres@{}/{db_name}?sslmode=disable",
            proxy.addr
        )));
        Some(proxy)
    } else {
        None
    };
    let redis_proxy = if options.redis_proxy {
        let proxy = Proxy::start(REDIS_ADDR.parse().unwrap()).await;
        settings.redis_url = Some(format!("redis://{}", proxy.addr));
        Some(proxy)
    } else {
        None
    };
    configure(&mut settings);
    let redis_prefix = settings.redis.key_prefix.clone();
    let outbox = settings.mail.outbox_dir.clone();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            if owns_database {
                drop_database(db_name);
            }
            panic!("the server did not start: {e:#}");
        }
    };
    let port = app.port();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db_name,
        redis_prefix,
        outbox,
        owns_database,
        state,
        db_proxy,
        redis_proxy,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs a GraphQL operation as JSON, accepting `application/graphql-response+json`.
    pub async fn graphql(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// POSTs a GraphQL operation with `Authorization: Bearer <token>` when given.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Registers a member and returns their session token.
    pub async fn register(&self, username: &str) -> String {
        let (status, body) = self
            .graphql(
                "mutation($input: RegisterInput!) { register(input: $input) { userErrors { field message code } token user { username } } }",
                json!({ "input": {
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": "correct horse battery",
                    "name": format!("{username} Example"),
                } }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["register"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Registers a member and confirms their email through the link mailed to them.
    pub async fn member(&self, username: &str) -> String {
        let token = self.register(username).await;
        self.drain_jobs().await;
        let to = format!("{username}@example.com");
        let mail = self
            .emails()
            .into_iter()
            .rev()
            .find(|m| m.to == to && m.subject.contains("Confirm"))
            .expect("a confirmation email");
        let (_, body) = self
            .graphql(
                "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { username } } }",
                json!({ "t": mail.token("confirm-email") }),
            )
            .await;
        assert_eq!(
            body["data"]["confirmEmail"]["user"]["username"], username,
            "{body}"
        );
        token
    }

    /// Runs a GraphQL operation as `token` and returns `data`, failing on any error or any
    /// mutation's `userErrors`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_as(token, query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        assert!(user_errors(&body).is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Runs an operation that must fail with `code` (the first error's `extensions.code`);
    /// returns the body for whatever else the test checks.
    pub async fn fails(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        expected: &str,
    ) -> Value {
        let (_, body) = self.graphql_as(token, query, variables).await;
        assert_eq!(code(&body), expected, "{query}: {body}");
        body
    }

    /// Runs an operation that must fail with `code` on the input field `field`.
    pub async fn fails_on(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        expected: (&str, &str),
    ) -> Value {
        let (_, body) = self.graphql_as(token, query, variables).await;
        assert_eq!((code(&body), field(&body)), expected, "{query}: {body}");
        body
    }

    /// The statements Postgres has received through the proxy (`Options::db_proxy`).
    pub fn statements(&self) -> u64 {
        self.db_proxy
            .as_ref()
            .expect("spawn the app with db_proxy")
            .statements()
    }

    pub fn worker(&self) -> vibecoding::worker::Worker {
        let render = vibecoding::graphql::webhook_payload::Renderer::new(self.state.clone());
        vibecoding::worker::Worker::new(self.state.job_context(), std::sync::Arc::new(render))
    }

    /// Runs every due job, as the worker would.
    pub async fn drain_jobs(&self) -> Vec<vibecoding::worker::Outcome> {
        self.worker().drain().await.unwrap()
    }

    /// Messages in the development outbox, oldest first.
    pub fn emails(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut paths: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        paths
            .iter()
            .map(|p| Mail::parse(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Another node on the same database and Redis.
    pub async fn second_node(&self, options: Options) -> TestApp {
        self.second_node_with(options, |_| {}).await
    }

    pub async fn second_node_with(
        &self,
        options: Options,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let options = Options {
            share_with: Some((self.db_name.clone(), self.redis_prefix.clone())),
            ..options
        };
        spawn_app_with(options, configure).await
    }

    /// Sends a GraphQL multipart request (an upload): `file` goes to `variables.<path>`.
    pub async fn upload(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        path: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let operations = json!({ "query": query, "variables": variables });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text(
                "map",
                json!({ "0": [format!("variables.{path}")] }).to_string(),
            )
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
            );
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .header("apollo-require-preflight", "true")
            .multipart(form);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
        )
    }

    /// Makes a member's account older than the new-member limits look at.
    pub async fn age_member(&self, username: &str) {
        sqlx::query("UPDATE users SET created_at = now() - interval '30 days' WHERE username = $1")
            .bind(username)
            .execute(&self.state.db)
            .await
            .unwrap();
    }

    pub async fn set_role(&self, username: &str, role: &str) {
        sqlx::query("UPDATE users SET role = $2 WHERE username = $1")
            .bind(username)
            .bind(role)
            .execute(&self.state.db)
            .await
            .unwrap();
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql/ws", self.port)
    }

    /// Opens a GraphQL WebSocket with the given subprotocol and `Origin`, and completes the
    /// connection handshake.
    pub async fn ws_connect(&self, protocol: &str, origin: Option<&str>) -> WsClient {
        let (socket, _) = ws_handshake(&self.ws_url(), protocol, origin)
            .await
            .unwrap();
        let mut client = WsClient {
            socket,
            protocol: protocol.to_owned(),
        };
        client
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        let ack = client.next_json().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.db_proxy.take();
        self.redis_proxy.take();
        let _ = std::fs::remove_dir_all(&self.state.settings.search.index_dir);
        if !self.owns_database {
            return;
        }
        let prefix = self.redis_prefix.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(client) = redis::Client::open(format!("redis://{REDIS_ADDR}"))
                && let Ok(mut conn) = client.get_connection()
            {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query(&mut conn)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
                }
            }
        })
        .join();
        drop_database(std::mem::take(&mut self.db_name));
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_handshake(
    url: &str,
    protocol: &str,
    origin: Option<&str>,
) -> Result<
    (
        WsStream,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await
}

pub struct WsClient {
    pub socket: WsStream,
    pub protocol: String,
}

impl WsClient {
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next message, within 5 seconds.
    pub async fn next_message(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.socket.next())
            .await
            .expect("no WebSocket message within 5 seconds")
            .expect("the WebSocket ended")
            .expect("WebSocket error")
    }

    /// The next JSON message, skipping keep-alives and pings.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ka" || value["type"] == "ping" {
                        continue;
                    }
                    return value;
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Waits until the server has taken in every message sent before (an operation sent
    /// after them has completed): a subscription sent before is listening then. Messages
    /// that come meanwhile are dropped.
    pub async fn settle(&mut self) {
        self.subscribe("settle", "{ __typename }").await;
        loop {
            let message = self.next_json().await;
            if message["id"] == "settle" && message["type"] == "complete" {
                return;
            }
        }
    }

    /// Starts a subscription in this connection's protocol.
    pub async fn subscribe(&mut self, id: &str, query: &str) {
        let kind = if self.protocol == "graphql-transport-ws" {
            "subscribe"
        } else {
            "start"
        };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query } }))
            .await;
    }
}

/// A free port on loopback, for servers started as separate processes.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An `.eml` from the outbox, decoded enough to read links.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Headers and bodies, with quoted-printable soft breaks and `=3D` undone.
    pub text: String,
}

impl Mail {
    pub fn parse(raw: &str) -> Self {
        let header = |name: &str| {
            raw.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let text = raw
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        Self {
            to: header("To"),
            subject: header("Subject"),
            text,
        }
    }

    /// The token in a link to `path` (`confirm-email`, `reset-password`).
    pub fn token(&self, path: &str) -> String {
        let marker = format!("/{path}?token=");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {path} link in {}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// The first non-empty `userErrors` list among the response's mutation payloads.
pub fn user_errors(body: &Value) -> Option<&Vec<Value>> {
    body["data"]
        .as_object()?
        .values()
        .filter_map(|payload| payload["userErrors"].as_array())
        .find(|errors| !errors.is_empty())
}

/// The `extensions.code` of a response's first error; BAD_USER_INPUT when a mutation
/// answered with `userErrors` instead.
pub fn code(body: &Value) -> &str {
    if body.get("errors").is_none() && user_errors(body).is_some() {
        return "BAD_USER_INPUT";
    }
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// The message of a response's first error, or of a mutation's first user error.
pub fn message(body: &Value) -> &str {
    if body.get("errors").is_none()
        && let Some(errors) = user_errors(body)
    {
        return errors[0]["message"].as_str().unwrap_or("<none>");
    }
    body["errors"][0]["message"].as_str().unwrap_or("<none>")
}

/// The `extensions.field` of a response's first error, or the input field of a mutation's
/// first user error (the last part of its path).
pub fn field(body: &Value) -> &str {
    if body.get("errors").is_none()
        && let Some(errors) = user_errors(body)
    {
        return errors[0]["field"]
            .as_array()
            .and_then(|path| path.last())
            .and_then(Value::as_str)
            .unwrap_or("<none>");
    }
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("<none>")
}
