//! Events between processes: each process holds one Redis subscriber connection (a single
//! pattern subscription on its key prefix) and fans events out to its local subscribers
//! through `tokio::sync::broadcast`. With Redis switched off, the same hub works in
//! process, for a single node.
//!
//! Delivery is at most once: a subscriber that falls more than [`BUFFER`] events behind
//! loses the oldest ones (its receiver reports how many), so a slow client never grows
//! memory. When the Redis connection drops, the listener reconnects and subscribes again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::cache::Cache;
use crate::config::Settings;

/// A member's sessions, keys or standing changed (from Postgres, see
/// [`PubSub::with_database_listener`]).
pub fn credentials(user: crate::ids::UserId) -> String {
    format!("credentials:{user}")
}

/// The Postgres channel the credential triggers notify.
pub const CREDENTIALS_NOTIFY: &str = "credentials";

/// The Postgres channel notified when anything readers see changes.
pub const CONTENT_NOTIFY: &str = "content";

/// The Postgres channel on which the search-index change log announces new entries (see
/// the search index).
pub const SEARCH_NOTIFY: &str = "search";

/// Events kept per channel for a subscriber that is behind.
pub const BUFFER: usize = 256;

type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>>;

#[derive(Clone)]
pub struct PubSub {
    channels: Channels,
    redis: Option<RedisSide>,
    /// The listener for Postgres notifications, when this process has one.
    database: Option<Arc<AbortOnDrop>>,
    /// Bumped whenever something readers see changes (Postgres' `content` channel), and
    /// whenever the listener reconnects (it may have missed some).
    content: Arc<std::sync::atomic::AtomicU64>,
    /// Woken when Postgres announces a change to what search finds (`search` channel),
    /// and whenever the listener reconnects.
    search: Arc<tokio::sync::Notify>,
    /// Where this node stands on credentials (Postgres' `credentials` channel).
    credentials: Arc<Credentials>,
    lost: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
struct RedisSide {
    conn: ConnectionManager,
    prefix: Arc<str>,
    _listener: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PubSub {
    /// In Redis mode, starts this process's listener (it connects, and reconnects, by itself).
    pub fn start(settings: &Settings, cache: &Cache) -> anyhow::Result<Self> {
        let channels: Channels = Arc::default();
        let redis = match (settings.redis_url(), cache) {
            (Some(url), Cache::Redis { conn, prefix }) => {
                let client = redis::Client::open(url)?;
                let listener = tokio::spawn(listen(client, prefix.clone(), channels.clone()));
                Some(RedisSide {
                    conn: conn.clone(),
                    prefix: prefix.clone(),
                    _listener: Arc::new(AbortOnDrop(listener)),
                })
            }
            _ => None,
        };
        Ok(Self {
            channels,
            redis,
            database: None,
            content: Arc::default(),
            search: Arc::default(),
            credentials: Arc::default(),
            lost: Arc::default(),
        })
    }

    /// Also delivers what Postgres announces on its `credentials` channel (a member id,
    /// from the triggers of the migrations) to local subscribers of
    /// [`credentials`]: the server's WebSockets follow their credentials
    /// through it. One connection per process, reconnected by sqlx when it drops.
    /// It stops when `shutdown` turns true.
    pub fn with_database_listener(
        mut self,
        pool: &sqlx::PgPool,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let pool = pool.clone();
        let channels = self.channels.clone();
        let content = self.content.clone();
        let search = self.search.clone();
        let credentials = self.credentials.clone();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            while !*shutdown.borrow() {
                tokio::select! {
                    result = listen_to_database(&pool, &channels, &content, &search, &credentials) => {
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "credential listener lost Postgres; retrying");
                        }
                    }
                    _ = shutdown.changed() => break,
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        self.database = Some(Arc::new(AbortOnDrop(task)));
        self
    }

    /// Changes whenever something a reader sees may have changed, on any node: what a
    /// cached page was made under is stale once this moves on.
    pub fn content_generation(&self) -> u64 {
        self.content.load(std::sync::atomic::Ordering::Acquire)
    }

    /// What wakes this node's search index when Postgres logs a change.
    pub fn search_changes(&self) -> Arc<tokio::sync::Notify> {
        self.search.clone()
    }

    /// Changes whenever any session, key or member's standing may have changed, on any
    /// node: a credential checked before is to be checked again. `None` while the
    /// listener that hears of such changes is not connected: then nothing checked
    /// before may be trusted.
    pub fn credentials_generation(&self) -> Option<u64> {
        use std::sync::atomic::Ordering;
        self.credentials
            .listening
            .load(Ordering::Acquire)
            .then(|| self.credentials.generation.load(Ordering::Acquire))
    }

    /// This node changed something that may touch a credential: what was checked before
    /// is checked again, here at once (other nodes hear of it from Postgres).
    pub fn credentials_may_have_changed(&self) {
        self.credentials.changed();
    }

    /// Counts events a slow subscriber lost (its buffer was full).
    pub fn count_lost(&self, lost: u64) {
        self.lost
            .fetch_add(lost, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(lost, "a slow subscriber lost events");
    }

    /// Events lost by slow subscribers since this process started.
    pub fn lost_events(&self) -> u64 {
        self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Receives every event published on `channel` from now on, by any node.
    pub fn subscribe(&self, channel: &str) -> broadcast::Receiver<Arc<str>> {
        lock(&self.channels)
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// Publishes to every subscriber of `channel` on every node. Call it after the
    /// transaction that made the event has committed.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<(), redis::RedisError> {
        match &self.redis {
            Some(redis) => {
                let mut conn = redis.conn.clone();
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(format!("{}events:{channel}", redis.prefix))
                    .arg(payload)
                    .query_async(&mut conn)
                    .await?;
                Ok(())
            }
            None => {
                deliver(&self.channels, channel, payload.into());
                Ok(())
            }
        }
    }
}

fn lock(
    channels: &Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>,
) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<str>>>> {
    channels.lock().unwrap_or_else(PoisonError::into_inner)
}

fn deliver(channels: &Channels, channel: &str, payload: Arc<str>) {
    let mut map = lock(channels);
    if let Some(sender) = map.get(channel)
        && sender.send(payload).is_err()
    {
        // Nobody listens any more.
        map.remove(channel);
    }
}

/// A generation that moves whenever any credential may have changed, and whether the
/// listener that moves it is connected.
#[derive(Default)]
pub struct Credentials {
    generation: std::sync::atomic::AtomicU64,
    listening: std::sync::atomic::AtomicBool,
}

impl Credentials {
    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn listening(&self, yes: bool) {
        self.changed();
        self.listening
            .store(yes, std::sync::atomic::Ordering::Release);
    }
}

async fn listen_to_database(
    pool: &sqlx::PgPool,
    channels: &Channels,
    content: &std::sync::atomic::AtomicU64,
    search: &tokio::sync::Notify,
    credentials: &Credentials,
) -> sqlx::Result<()> {
    use std::sync::atomic::Ordering;
    // A pool of its own: a listener's connection is given back (after an UNLISTEN) only
    // when it is dropped, and the server's pool waits for every connection when it closes.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
    listener
        .listen_all([CREDENTIALS_NOTIFY, CONTENT_NOTIFY, SEARCH_NOTIFY])
        .await?;
    // Whatever changed while nobody listened is unknown: count it as a change.
    let missed = || {
        content.fetch_add(1, Ordering::AcqRel);
        search.notify_one();
        credentials.changed();
    };
    missed();
    credentials.listening(true);
    tracing::info!("credential listener subscribed");
    let result = loop {
        let notification = match listener.try_recv().await {
            Ok(Some(notification)) => notification,
            // The connection dropped; the next call reconnects. What was announced
            // meanwhile is lost: count it all as changed.
            Ok(None) => {
                missed();
                continue;
            }
            Err(e) => break Err(e),
        };
        if notification.channel() == CONTENT_NOTIFY {
            content.fetch_add(1, Ordering::AcqRel);
            continue;
        }
        if notification.channel() == SEARCH_NOTIFY {
            search.notify_one();
            continue;
        }
        // Before the member's sockets hear of it, so they check afresh.
        credentials.changed();
        if let Ok(user) = notification.payload().parse::<uuid::Uuid>() {
            let payload = serde_json::json!({ "id": user }).to_string();
            deliver(channels, &self::credentials(user.into()), payload.into());
        }
    };
    credentials.listening(false);
    result
}

async fn listen(client: redis::Client, prefix: Arc<str>, channels: Channels) {
    let pattern_prefix = format!("{prefix}events:");
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub
                    .psubscribe(format!("{pattern_prefix}*"))
                    .await
                    .is_ok()
                {
                    tracing::info!("event listener subscribed");
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        let name = message.get_channel_name();
                        let Some(channel) = name.strip_prefix(&pattern_prefix) else {
                            continue;
                        };
                        if let Ok(payload) = message.get_payload::<String>() {
                            deliver(&channels, channel, payload.into());
                        }
                    }
                }
                tracing::warn!("event listener lost its Redis connection; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "event listener cannot reach Redis; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
