//! Configuration: built-in defaults < TOML file < environment.
//!
//! The environment names are the deployment runbook's (`DATABASE_URL`, `REDIS_URL`,
//! `SECRET_KEY_BASE`, ...). Every other setting can be given in the TOML file or as
//! `VIBECODING_<SECTION>__<KEY>` (for example `VIBECODING_GRAPHQL__MAX_DEPTH=10`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variables read directly under their runbook names, each mapped to the
/// setting of the same name in lower case.
pub const TOP_LEVEL_ENV: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY_BASE",
    "FOREM_OWNER_SECRET",
    "APP_DOMAIN",
    "APP_PROTOCOL",
    "SENTRY_DSN",
    "SENTRY_ENVIRONMENT",
    "CLOUDINARY_URL",
    "SENDGRID_API_KEY",
    "PORT",
    "HOST",
    "APP_ENV",
    "HEALTH_CHECK_TOKEN",
    "LOG_FORMAT",
    "SMTP_URL",
    "METRICS_TOKEN",
];

/// The shortest `SECRET_KEY_BASE` accepted in production.
pub const MIN_SECRET_KEY_BASE: usize = 32;

/// Prefix for nested settings given through the environment.
pub const NESTED_ENV_PREFIX: &str = "VIBECODING_";

/// The file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "vibecoding.toml";

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/vibecoding_development";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Every setting of the server and the worker. Secrets are `SecretString`: their `Debug`
/// output is redacted, so the whole struct can be logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub app_env: AppEnv,
    pub host: IpAddr,
    pub port: u16,
    #[serde(serialize_with = "redacted")]
    pub database_url: Option<SecretString>,
    /// `None` or empty: single-node mode with in-process pub/sub, cache and counters.
    #[serde(serialize_with = "url_without_credentials")]
    pub redis_url: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub secret_key_base: Option<SecretString>,
    #[serde(serialize_with = "redacted")]
    pub forem_owner_secret: Option<SecretString>,
    pub app_domain: String,
    pub app_protocol: String,
    #[serde(serialize_with = "redacted")]
    pub sentry_dsn: Option<SecretString>,
    pub sentry_environment: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub cloudinary_url: Option<SecretString>,
    #[serde(serialize_with = "redacted")]
    pub sendgrid_api_key: Option<SecretString>,
    #[serde(serialize_with = "redacted")]
    pub health_check_token: Option<SecretString>,
    /// Defaults to pretty in development and test, JSON in production.
    pub log_format: Option<LogFormat>,
    /// `smtp://user:password@host:port` (or `smtps://`): send email over SMTP.
    #[serde(serialize_with = "redacted")]
    pub smtp_url: Option<SecretString>,
    /// Bearer token `/metrics` asks for; without one only loopback callers may scrape.
    #[serde(serialize_with = "redacted")]
    pub metrics_token: Option<SecretString>,
    pub metrics: MetricsSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub http: HttpSettings,
    pub graphql: GraphqlSettings,
    pub jobs: JobsSettings,
    pub mail: MailSettings,
    pub auth: AuthSettings,
    /// The reaction categories members can use, each with its score.
    pub reactions: Vec<ReactionCategory>,
    pub feeds: FeedSettings,
    pub outbound: OutboundSettings,
    pub webhooks: WebhookSettings,
    pub feed_import: FeedImportSettings,
    pub rate_limits: RateLimitSettings,
    pub uploads: UploadSettings,
    pub search: SearchSettings,
    pub moderation: ModerationSettings,
    pub oauth: OAuthSettings,
    pub exports: ExportSettings,
}

/// Signing in through outside providers (OAuth 2.0 with PKCE). A provider without a client
/// id is off: its routes answer NOT_FOUND.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// How long a started sign-in may take at the provider, in minutes.
    pub flow_minutes: i64,
    /// Where the browser is sent when the provider's sign-in ends: a path of this site or
    /// a full URL of the front end. `#challenge=` (in the fragment) is added when a second
    /// factor is due, `?linked=` after a link, `?error=` (a stable code) when it failed.
    pub return_to: String,
    /// GitHub (`VIBECODING_OAUTH__GITHUB__CLIENT_ID`, `..._CLIENT_SECRET`).
    pub github: ProviderSettings,
}

/// One OAuth provider: its app's credentials and its endpoints (overridable so tests use a
/// local server).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub client_id: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub client_secret: Option<SecretString>,
    /// Where the browser is sent to approve the sign-in.
    pub authorize_url: String,
    /// Where a code is exchanged for an access token.
    pub token_url: String,
    /// The base of the provider's API (the user and their emails are read there).
    pub api_url: String,
    pub scopes: Vec<String>,
}

/// Members' data exports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// How long a finished export can be downloaded, in days; it is deleted after.
    pub link_days: i64,
    /// The largest archive built; an export that would be larger fails with that reason.
    pub max_bytes: u64,
    /// At most this many exports per member per day.
    pub per_day: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Serve `/metrics` on this port (all interfaces, no token) instead of the main one:
    /// for a private network the platform's scraper reaches.
    pub port: Option<u16>,
}

/// At most `max` in a window of `per_secs` seconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub max: u64,
    pub per_secs: u64,
}

impl Rule {
    pub const fn new(max: u64, per_secs: u64) -> Self {
        Self { max, per_secs }
    }
}

/// Per member unless named `_per_ip`. Counted in Redis, so they hold across nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Off only for tests that are not about limits.
    pub enabled: bool,
    pub article_create: Rule,
    pub article_update: Rule,
    pub comment_create: Rule,
    pub reaction: Rule,
    pub image_upload: Rule,
    pub profile_update: Rule,
    pub follow: Rule,
    pub confirmation_email: Rule,
    pub report: Rule,
    /// Members younger than `new_member_days` publish and comment at these rates.
    pub new_member_article: Rule,
    pub new_member_comment: Rule,
    pub new_member_days: i64,
    pub registration_per_ip: Rule,
    pub login_per_ip: Rule,
    /// Password changes, email changes and account deletions: each per member, and all
    /// three together per address (each runs the password hash).
    pub password_change: Rule,
    pub email_change: Rule,
    pub account_deletion: Rule,
    pub account_change_per_ip: Rule,
    /// Password-reset requests per address, and reset emails per target address.
    pub password_reset_per_ip: Rule,
    pub password_reset_per_email: Rule,
    /// Automatic persisted queries an address may register.
    pub persisted_query_per_ip: Rule,
    /// Webhook creations, changes, pings and redeliveries per member (each may send a
    /// request to an address the member chose).
    pub webhook: Rule,
    /// Feed sources added or refreshed per member (each fetches an address they chose).
    pub feed_source: Rule,
    /// Article imports per member (each unpacks an archive; its articles count against
    /// `article_create` as well).
    pub article_import: Rule,
    /// Sign-ins begun at an outside provider (GitHub) per address (each stores a flow).
    pub provider_sign_in_per_ip: Rule,
    /// Query complexity a member (or, signed out, an address) may spend per window.
    pub complexity_per_member: Rule,
    pub complexity_per_ip: Rule,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Largest width and height, in pixels.
    pub max_dimension: u32,
    /// Most frames in an animated GIF.
    pub max_frames: u32,
    /// Most pixels an upload may decode to, every frame counted (width x height x frames),
    /// checked from the headers before decoding.
    pub max_pixels: u64,
    /// What one member's images may take together, in bytes.
    pub quota_bytes: i64,
    /// Where images are kept when Cloudinary is not configured; served at `/uploads/`.
    pub dir: PathBuf,
    /// Cloudinary's upload API, replaced by a local server in tests.
    pub cloudinary_api_base: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Where this node keeps its article index (built from Postgres when missing, so an
    /// ephemeral disk is fine). Each node needs its own directory.
    pub index_dir: PathBuf,
    /// How long the change log keeps an entry, in hours; a node whose index is older than
    /// that rebuilds it.
    pub changes_kept_hours: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationSettings {
    /// Words and phrases that mark a title or comment as likely spam (case-insensitive).
    pub spam_terms: Vec<String>,
    /// Taken off the score of an article or comment that matches a spam term.
    pub spam_penalty: i32,
    /// A member whose articles collect more than this many `vomit` reactions from trusted
    /// members is suspended automatically.
    pub vomits_before_suspension: i64,
    /// Whether the public moderation log names the moderator of each action (moderators
    /// and admins always see the names).
    pub modlog_names_moderators: bool,
}

/// Requests to URLs members give: webhook receivers, feeds to import.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// Also allow plain http:// (development only: receivers must be https in production).
    pub allow_http: bool,
    /// Networks requests may reach although they are private (CIDRs), e.g. a test's local
    /// receiver. Empty in production.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// How long a request may take, connection included, in seconds.
    pub timeout_secs: u64,
}

/// Webhook deliveries: how they are retried, and when a failing webhook is turned off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The first retry waits this many seconds; each next one twice as long.
    pub retry_base_secs: u64,
    /// No retry waits longer than this.
    pub retry_max_secs: u64,
    /// Attempts per delivery before it is given up.
    pub max_attempts: i32,
    /// A webhook whose deliveries have all failed for this many hours is disabled and its
    /// owner told by email.
    pub disable_after_hours: i64,
    /// The most webhooks one member may have.
    pub max_per_member: i64,
}

/// Feeds members import as articles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedImportSettings {
    /// Each source is fetched again this many minutes after its last fetch.
    pub interval_minutes: i64,
    /// The most sources one member may have.
    pub max_sources_per_member: i64,
    /// A larger feed is refused part-way, unread.
    pub max_feed_bytes: usize,
    /// The most new entries one fetch turns into articles (the rest wait for the next).
    pub max_entries_per_fetch: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    /// LATEST leaves out articles scored below this.
    pub latest_min_score: i32,
    /// RELEVANT ranks articles published in the last this many days.
    pub relevant_days: i32,
    /// RELEVANT multiplies the rank of articles by followed members or in followed tags.
    pub followed_boost: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReactionCategory {
    pub name: String,
    /// What a button shows; the name in words (`exploding_head`: "Exploding head") when
    /// left out.
    #[serde(default)]
    pub label: Option<String>,
    /// What one reaction adds to the item's score.
    pub score: i32,
    /// Private categories (the reading list) are never counted in public.
    #[serde(default)]
    pub private: bool,
    /// Only trusted members, moderators and admins may use it; it is never shown in
    /// public but moves the item's score.
    #[serde(default)]
    pub privileged: bool,
}

impl ReactionCategory {
    /// What a button shows: the configured label, or the name in words.
    pub fn label(&self) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        let words = self.name.replace('_', " ");
        let mut chars = words.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }

    fn new(name: &str, score: i32, private: bool) -> Self {
        Self {
            name: name.to_owned(),
            label: None,
            score,
            private,
            privileged: false,
        }
    }

    fn privileged(name: &str, score: i32) -> Self {
        Self {
            name: name.to_owned(),
            label: None,
            score,
            private: true,
            privileged: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// How long a claimed job stays leased without a renewal; a dead worker's jobs run
    /// again after it.
    pub lease_secs: u64,
    pub poll_interval_ms: u64,
    /// Jobs of one kind run at once per worker, unless `concurrency` names the kind.
    pub default_concurrency: usize,
    pub concurrency: std::collections::BTreeMap<String, usize>,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// How long a stopping worker lets running jobs finish.
    pub shutdown_timeout_secs: u64,
    /// Run a worker inside `serve` (default: on in development, off otherwise).
    pub embedded: Option<bool>,
}

impl JobsSettings {
    pub fn concurrency_of(&self, kind: &str) -> usize {
        self.concurrency
            .get(kind)
            .copied()
            .unwrap_or(self.default_concurrency)
            .max(1)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The From of every message.
    pub from: String,
    /// SendGrid's API, configurable so it can be tested against a local server.
    pub sendgrid_base_url: String,
    /// Where the development outbox writes `.eml` files, when neither SendGrid nor SMTP is set.
    pub outbox_dir: PathBuf,
    /// The page where members change their notification settings (a client app's), linked
    /// from every notification and digest email; without it the link opens the message's
    /// own unsubscribe page.
    pub settings_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub session_days: i64,
    pub cookie_name: String,
    /// Publishing waits for a confirmed email.
    pub require_confirmed_email: bool,
    pub max_failed_logins: i32,
    pub lockout_minutes: i64,
    /// argon2id cost; the defaults are OWASP's (19 MiB, 2 passes).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// How long a sign-in waits for its second factor, in minutes.
    pub challenge_minutes: i64,
    /// Wrong second-factor codes before a sign-in's challenge is locked (sign in again).
    pub max_second_factor_failures: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a free connection before it is told the server is
    /// busy (RATE_LIMITED, retry after a second).
    pub acquire_timeout_ms: u64,
    /// Longest a statement of the server may run; Postgres cancels it after that.
    pub statement_timeout_ms: u64,
    /// The same for the worker and the operator commands (0: no limit). Migrations run
    /// without one.
    pub background_statement_timeout_ms: u64,
    /// Create the database when it does not exist (development and test only).
    pub create_if_missing: bool,
    /// Apply pending migrations when the server starts.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Every key this process writes starts with it (tests use one per test).
    pub key_prefix: String,
    pub connection_timeout_ms: u64,
    pub response_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Open WebSocket connections per client address, and per signed-in member, on one node.
    pub max_ws_per_ip: usize,
    pub max_ws_per_member: usize,
    /// Active subscriptions on one WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// A WebSocket must send `connection_init` within this many seconds.
    pub ws_init_timeout_secs: u64,
    /// Largest WebSocket message (and frame) accepted, in bytes.
    pub ws_max_message_bytes: usize,
    /// An idle WebSocket is pinged this often, and closed when it has sent nothing (not
    /// even a pong) for two intervals.
    pub ws_ping_interval_secs: u64,
    /// Origins allowed by CORS and on WebSocket upgrades, besides the app's own.
    pub allowed_origins: Vec<String>,
    /// How long shutdown waits for in-flight requests, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Time budget of a health check, in milliseconds.
    pub health_check_timeout_ms: u64,
    /// Where `make assets` installs the GraphiQL playground's files.
    pub assets_dir: PathBuf,
    /// The networks of the reverse proxies in front of the server (the platform's router,
    /// a CDN): CIDRs, or `private` (loopback, RFC 1918, CGNAT, unique local: where Render's
    /// and Railway's routers connect from) and `cloudflare` (its published ranges), comma
    /// separated. Only a connection from one of them may name the client in
    /// `X-Forwarded-For` or `CF-Connecting-IP`; the client is the first address, from the
    /// right, that is not one of them. Empty: the peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Let callers on this host read the database and cache health checks without
    /// `HEALTH_CHECK_TOKEN`. Turn off behind a reverse proxy on the same host, where every
    /// request arrives from loopback.
    pub health_token_exempts_loopback: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSettings {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: u64,
    /// Largest document (query text), in bytes; values belong in variables.
    pub max_document_bytes: usize,
    /// How deep `{`, `[` and `(` may nest in a document, counted before it is parsed.
    pub max_nesting: usize,
    /// Most selections an operation may expand to once its fragments are spread.
    pub max_selections: u64,
    /// Longest string in a document or its variables, in bytes.
    pub max_text_bytes: usize,
    /// How often one field may be selected in the same selection set.
    pub max_field_repeats: usize,
    pub max_directives: usize,
    pub max_page_size: usize,
    pub default_page_size: usize,
    /// How many operations one batched request may carry; 0 turns batching off.
    pub max_batch: usize,
    /// How long a DataLoader waits to gather a batch, in milliseconds.
    pub loader_delay_ms: u64,
    /// Defaults to on in development and test, off in production.
    pub introspection: Option<bool>,
    /// "Did you mean ...?" hints; defaults like `introspection`.
    pub suggestions: Option<bool>,
    /// Accept only operations listed in `persisted_manifest` (by hash): production APIs
    /// serving known clients.
    pub persisted_only: bool,
    /// An Apollo persisted-query manifest (`{"operations": [{"id", "body"}]}`).
    pub persisted_manifest: Option<PathBuf>,
    /// How long an automatically persisted query is remembered.
    pub apq_ttl_secs: u64,
    /// Largest automatically persisted query remembered, in bytes.
    pub apq_max_bytes: usize,
}

/// Networks whose connections may say who the client is (see `http.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

/// Cloudflare's published ranges (https://www.cloudflare.com/ips/).
const CLOUDFLARE: &[&str] = &[
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
];

/// Loopback, RFC 1918, CGNAT and IPv6 unique-local and loopback networks.
const PRIVATE: &[&str] = &[
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "::1/128",
    "fc00::/7",
];

impl TrustedProxies {
    /// Reads `10.0.0.0/8, cloudflare, 2001:db8::1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let named: &[&str] = match item.to_ascii_lowercase().as_str() {
                "private" => PRIVATE,
                "cloudflare" => CLOUDFLARE,
                _ => &[],
            };
            if !named.is_empty() {
                nets.extend(named.iter().filter_map(|n| n.parse::<ipnet::IpNet>().ok()));
                continue;
            }
            if item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "http.trusted_proxies lists the proxies' networks (CIDRs, `private`, `cloudflare`), not how many there are: {item:?}"
                ));
            }
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("http.trusted_proxies: {item:?} is not a network"))?;
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        s.serialize_str(&text.join(","))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Text(String),
            List(Vec<String>),
            Count(u64),
        }
        let text = match Given::deserialize(d)? {
            Given::Text(text) => text,
            Given::List(items) => items.join(","),
            Given::Count(n) => n.to_string(),
        };
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How a secret serialises: `SecretString` has no `Serialize` of its own, so a secret field
/// cannot be added without naming a serialiser, and this is the only one. The defaults have
/// no secrets, so nothing reads a serialised secret back.
fn redacted<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some(REDACTED),
        None => s.serialize_none(),
    }
}

/// A URL that may carry a password (Redis), without its user and password.
fn url_without_credentials<S: serde::Serializer>(
    v: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(url) => s.serialize_some(&redact_url(url)),
        None => s.serialize_none(),
    }
}

const REDACTED: &str = "[redacted]";

impl Default for Settings {
    fn default() -> Self {
        Self {
            app_env: AppEnv::Development,
            host: IpAddr::from([0, 0, 0, 0]),
            port: 3000,
            database_url: None,
            redis_url: Some(DEFAULT_REDIS_URL.to_owned()),
            secret_key_base: None,
            forem_owner_secret: None,
            app_domain: "localhost:3000".to_owned(),
            app_protocol: "http://".to_owned(),
            sentry_dsn: None,
            sentry_environment: None,
            cloudinary_url: None,
            sendgrid_api_key: None,
            health_check_token: None,
            log_format: None,
            smtp_url: None,
            metrics_token: None,
            metrics: MetricsSettings {
                enabled: true,
                port: None,
            },
            database: DatabaseSettings {
                max_connections: 10,
                min_connections: 0,
                acquire_timeout_ms: 2_000,
                statement_timeout_ms: 5_000,
                background_statement_timeout_ms: 600_000,
                create_if_missing: true,
                migrate_on_start: true,
            },
            redis: RedisSettings {
                key_prefix: "vibecoding:".to_owned(),
                connection_timeout_ms: 1_000,
                response_timeout_ms: 1_000,
            },
            http: HttpSettings {
                // Room for an 800 KB article once JSON-escaped.
                body_limit: 2 * 1024 * 1024,
                allowed_origins: Vec::new(),
                max_ws_per_ip: 50,
                max_ws_per_member: 10,
                max_subscriptions_per_connection: 25,
                ws_init_timeout_secs: 5,
                ws_max_message_bytes: 64 * 1024,
                ws_ping_interval_secs: 30,
                shutdown_timeout_secs: 25,
                health_check_timeout_ms: 1_500,
                assets_dir: PathBuf::from("web/node_modules"),
                health_token_exempts_loopback: true,
                trusted_proxies: TrustedProxies::default(),
            },
            graphql: GraphqlSettings {
                // A comment thread four levels deep, through connections, is 15 deep.
                max_depth: 16,
                max_complexity: 5_000,
                max_aliases: 15,
                max_document_bytes: 256 * 1024,
                max_nesting: 64,
                max_selections: 5_000,
                // Room for an 800 KB article body.
                max_text_bytes: 1024 * 1024,
                max_field_repeats: 3,
                max_directives: 10,
                max_page_size: 100,
                default_page_size: 20,
                max_batch: 0,
                loader_delay_ms: 2,
                introspection: None,
                suggestions: None,
                persisted_only: false,
                persisted_manifest: None,
                apq_ttl_secs: 7 * 86_400,
                apq_max_bytes: 32 * 1024,
            },
            jobs: JobsSettings {
                lease_secs: 60,
                poll_interval_ms: 500,
                default_concurrency: 2,
                // A slow receiver holds a delivery for up to `outbound.timeout_secs`: more
                // of them run at once, so one receiver does not hold up the others.
                concurrency: std::collections::BTreeMap::from([("deliver_webhook".to_owned(), 8)]),
                backoff_base_secs: 5,
                backoff_max_secs: 3_600,
                shutdown_timeout_secs: 20,
                embedded: None,
            },
            mail: MailSettings {
                from: "Vibecoding Community <community@vibecoding.community>".to_owned(),
                sendgrid_base_url: "https://api.sendgrid.com".to_owned(),
                outbox_dir: PathBuf::from("tmp/outbox"),
                settings_url: None,
            },
            auth: AuthSettings {
                session_days: 30,
                cookie_name: "vibecoding_session".to_owned(),
                require_confirmed_email: true,
                max_failed_logins: 10,
                lockout_minutes: 10,
                argon2_memory_kib: 19_456,
                argon2_iterations: 2,
                challenge_minutes: 10,
                max_second_factor_failures: 5,
            },
            outbound: OutboundSettings {
                allow_http: false,
                allowed_networks: Vec::new(),
                timeout_secs: 10,
            },
            webhooks: WebhookSettings {
                retry_base_secs: 30,
                retry_max_secs: 3600,
                max_attempts: 30,
                disable_after_hours: 24,
                max_per_member: 20,
            },
            feed_import: FeedImportSettings {
                interval_minutes: 60,
                max_sources_per_member: 10,
                max_feed_bytes: 2 * 1024 * 1024,
                max_entries_per_fetch: 20,
            },
            feeds: FeedSettings {
                latest_min_score: -20,
                relevant_days: 30,
                followed_boost: 2.0,
            },
            reactions: vec![
                ReactionCategory::new("like", 1, false),
                ReactionCategory::new("unicorn", 1, false),
                ReactionCategory::new("exploding_head", 1, false),
                ReactionCategory::new("raised_hands", 1, false),
                ReactionCategory::new("fire", 1, false),
                ReactionCategory {
                    label: Some("Reading list".to_owned()),
                    ..ReactionCategory::new("readinglist", 0, true)
                },
                ReactionCategory::privileged("thumbsup", 5),
                ReactionCategory::privileged("thumbsdown", -10),
                ReactionCategory::privileged("vomit", -50),
            ],
            // Forem's defaults.
            rate_limits: RateLimitSettings {
                enabled: true,
                article_create: Rule::new(9, 30),
                article_update: Rule::new(30, 30),
                comment_create: Rule::new(9, 30),
                reaction: Rule::new(10, 30),
                image_upload: Rule::new(9, 30),
                profile_update: Rule::new(15, 30),
                follow: Rule::new(500, 86_400),
                confirmation_email: Rule::new(2, 120),
                report: Rule::new(10, 300),
                new_member_article: Rule::new(1, 300),
                new_member_comment: Rule::new(1, 300),
                new_member_days: 3,
                registration_per_ip: Rule::new(10, 3_600),
                login_per_ip: Rule::new(20, 600),
                password_change: Rule::new(5, 3_600),
                email_change: Rule::new(5, 3_600),
                account_deletion: Rule::new(5, 3_600),
                account_change_per_ip: Rule::new(20, 3_600),
                password_reset_per_ip: Rule::new(10, 3_600),
                password_reset_per_email: Rule::new(3, 3_600),
                persisted_query_per_ip: Rule::new(100, 600),
                webhook: Rule::new(30, 3_600),
                feed_source: Rule::new(20, 3_600),
                article_import: Rule::new(10, 3_600),
                provider_sign_in_per_ip: Rule::new(30, 600),
                // Twenty of the most expensive documents a minute, or thousands of cheap ones.
                complexity_per_member: Rule::new(100_000, 60),
                complexity_per_ip: Rule::new(50_000, 60),
            },
            uploads: UploadSettings {
                max_bytes: 25 * 1024 * 1024,
                max_dimension: 4_096,
                max_frames: 500,
                max_pixels: 50_000_000,
                quota_bytes: 250 * 1024 * 1024,
                dir: PathBuf::from("tmp/uploads"),
                cloudinary_api_base: "https://api.cloudinary.com".to_owned(),
            },
            search: SearchSettings {
                index_dir: PathBuf::from("tmp/search-index"),
                changes_kept_hours: 24,
            },
            moderation: ModerationSettings {
                spam_terms: Vec::new(),
                spam_penalty: 50,
                vomits_before_suspension: 2,
                modlog_names_moderators: true,
            },
            oauth: OAuthSettings {
                flow_minutes: 10,
                return_to: "/".to_owned(),
                github: ProviderSettings {
                    client_id: None,
                    client_secret: None,
                    authorize_url: "https://github.com/login/oauth/authorize".to_owned(),
                    token_url: "https://github.com/login/oauth/access_token".to_owned(),
                    api_url: "https://api.github.com".to_owned(),
                    scopes: vec!["read:user".to_owned(), "user:email".to_owned()],
                },
            },
            exports: ExportSettings {
                link_days: 7,
                max_bytes: 100 * 1024 * 1024,
                per_day: 3,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{0}")]
    Missing(String),
}

impl Settings {
    /// Reads defaults, then the TOML file (`path`, or `vibecoding.toml` when present), then
    /// the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::figment(path).extract_settings()
    }

    pub fn figment(path: Option<&Path>) -> Figment {
        let file: PathBuf =
            path.map_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE), Path::to_path_buf);
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if path.is_some() || file.exists() {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            // RAILS_ENV is read so an existing deployment's settings keep working;
            // APP_ENV, merged after it, wins when both are set.
            .merge(Env::raw().only(&["RAILS_ENV"]).map(|_| "app_env".into()))
            .merge(Env::raw().only(TOP_LEVEL_ENV))
            // VIBECODING_CONFIG names the file itself (read by the command line).
            .merge(
                Env::prefixed(NESTED_ENV_PREFIX)
                    .ignore(&["config"])
                    .split("__"),
            )
    }

    /// Checks what must hold before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.app_env == AppEnv::Production {
            if self
                .database_url
                .as_ref()
                .is_none_or(|u| u.expose_secret().is_empty())
            {
                return Err(ConfigError::Missing(
                    "DATABASE_URL must be set in production".to_owned(),
                ));
            }
            let key_len = self
                .secret_key_base
                .as_ref()
                .map_or(0, |k| k.expose_secret().chars().count());
            // 32 characters: what Render's `generateValue` gives (base64 of 256 bits) and
            // more; `vibecoding secret` prints 128.
            if key_len < MIN_SECRET_KEY_BASE {
                return Err(ConfigError::Missing(
                    "SECRET_KEY_BASE must be set in production and be at least 32 characters long (`vibecoding secret` prints one)"
                        .to_owned(),
                ));
            }
        }
        if !matches!(
            self.app_protocol.as_str(),
            "http://" | "https://" | "http" | "https"
        ) {
            return Err(ConfigError::Invalid(format!(
                "APP_PROTOCOL must be http:// or https://, not {:?}",
                self.app_protocol
            )));
        }
        if self.graphql.default_page_size == 0
            || self.graphql.default_page_size > self.graphql.max_page_size
        {
            return Err(ConfigError::Invalid(
                "graphql.default_page_size must be between 1 and graphql.max_page_size".to_owned(),
            ));
        }
        Ok(())
    }

    /// The effective settings as JSON, with every secret replaced by `[redacted]`.
    /// Secrets serialise redacted whatever the caller (see [`redacted`]).
    pub fn redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The database URL, or the development default outside production.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.expose_secret().is_empty() => url.expose_secret().to_owned(),
            _ => DEFAULT_DATABASE_URL.to_owned(),
        }
    }

    /// `None` when Redis is switched off (`REDIS_URL=""`).
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// The public reaction categories (the ones counted for everyone to see), with the
    /// score each adds, in their configured order.
    pub fn public_reactions(&self) -> (Vec<String>, Vec<i32>) {
        self.reactions
            .iter()
            .filter(|c| !c.private)
            .map(|c| (c.name.clone(), c.score))
            .unzip()
    }

    /// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure over https.
    pub fn session_cookie(&self, token: &str, max_age_secs: i64) -> String {
        let secure = if self.is_https() { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
            self.auth.cookie_name
        )
    }

    /// `Set-Cookie` that ends the session cookie.
    pub fn clear_session_cookie(&self) -> String {
        self.session_cookie("", 0)
    }

    /// The key links and tokens are signed with: `SECRET_KEY_BASE` (required in
    /// production), a fixed one in development and tests.
    pub fn signing_key(&self) -> Vec<u8> {
        self.secret_key_base.as_ref().map_or_else(
            || b"vibecoding-development-unsubscribe".to_vec(),
            |k| k.expose_secret().as_bytes().to_vec(),
        )
    }

    pub fn is_https(&self) -> bool {
        self.app_protocol.starts_with("https")
    }

    /// The public origin, e.g. `https://vibecoding.community`.
    pub fn public_origin(&self) -> String {
        let scheme = if self.is_https() { "https" } else { "http" };
        format!("{scheme}://{}", self.app_domain)
    }

    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            _ => LogFormat::Pretty,
        })
    }

    pub fn introspection_enabled(&self) -> bool {
        self.graphql
            .introspection
            .unwrap_or(self.app_env != AppEnv::Production)
    }

    pub fn suggestions_enabled(&self) -> bool {
        self.graphql
            .suggestions
            .unwrap_or(self.app_env != AppEnv::Production)
    }

    pub fn embedded_worker(&self) -> bool {
        self.jobs
            .embedded
            .unwrap_or(self.app_env == AppEnv::Development)
    }

    pub fn sentry_environment(&self) -> String {
        self.sentry_environment
            .clone()
            .unwrap_or_else(|| self.app_env.as_str().to_owned())
    }
}

trait ExtractSettings {
    fn extract_settings(self) -> Result<Settings, ConfigError>;
}

impl ExtractSettings for Figment {
    fn extract_settings(self) -> Result<Settings, ConfigError> {
        // figment's own message names the key and where it came from, never the value.
        self.extract::<Settings>()
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// Where a database URL points, without user or password, for log lines.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        None => "<unparsable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_over_https() {
        let mut settings = Settings::default();
        let plain = settings.session_cookie("t", 60);
        assert_eq!(
            plain,
            "vibecoding_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        settings.app_protocol = "https://".to_owned();
        assert!(settings.session_cookie("t", 60).ends_with("; Secure"));
        assert!(settings.clear_session_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let settings = Settings {
            secret_key_base: Some(SecretString::from("s3cr3t-key-base")),
            database_url: Some(SecretString::from("postgres://u:hunter2@db/x")),
            ..Settings::default()
        };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t-key-base"));
        assert!(!debug.contains("hunter2"));
    }

    #[test]
    fn production_requires_a_long_secret_and_a_database() {
        let mut settings = Settings {
            app_env: AppEnv::Production,
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        settings.database_url = Some(SecretString::from("postgres://db/x"));
        settings.secret_key_base = Some(SecretString::from("a".repeat(31)));
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("SECRET_KEY_BASE"), "{err}");
        settings.secret_key_base = Some(SecretString::from("a".repeat(64)));
        settings.validate().unwrap();
    }

    #[test]
    fn trusted_proxies_read_networks_and_names() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, cloudflare,2001:db8::1").unwrap();
        assert!(proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(proxies.contains("104.16.0.1".parse().unwrap()));
        assert!(proxies.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(proxies.contains("2001:db8::1".parse().unwrap()));
        assert!(!proxies.contains("8.8.8.8".parse().unwrap()));
        assert!(
            TrustedProxies::parse("2")
                .unwrap_err()
                .contains("not how many")
        );
        assert!(TrustedProxies::parse("nonsense").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn redaction_drops_credentials() {
        assert_eq!(
            redact_url("postgres://user:pw@host:5432/db"),
            "postgres://host:5432/db"
        );
    }
}
