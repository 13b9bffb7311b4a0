//! The key-value store: Redis through a connection manager, or an in-process map when
//! Redis is switched off (`REDIS_URL=""`, single-node mode).
//!
//! Every operation has a short timeout, so a Redis outage slows nothing down: callers
//! treat a failed cache operation as a miss.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::Settings;

#[derive(Clone)]
pub enum Cache {
    Redis {
        conn: ConnectionManager,
        prefix: Arc<str>,
    },
    Memory(MemoryStore),
}

/// The in-process store: at most [`MEMORY_ENTRIES`] keys, each gone at its own expiry.
/// When full, a newcomer is admitted only if it is asked for more often than the entry it
/// would replace (moka's TinyLFU), so a flood of keys used once (one per invented login or
/// address) cannot push out the counters that are being hit.
pub type MemoryStore = moka::sync::Cache<String, Stored>;

/// How many keys the in-process store holds.
pub const MEMORY_ENTRIES: u64 = 100_000;

#[derive(Clone)]
pub struct Stored {
    value: String,
    expires: Option<Instant>,
}

/// Each entry lives until its own `expires`.
struct UntilExpiry;

impl moka::Expiry<String, Stored> for UntilExpiry {
    fn expire_after_create(&self, _: &String, stored: &Stored, now: Instant) -> Option<Duration> {
        stored.expires.map(|at| at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        stored: &Stored,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        stored.expires.map(|at| at.saturating_duration_since(now))
    }
}

impl Cache {
    /// Connects lazily: the server starts even while Redis is down, and the connection
    /// manager reconnects by itself when Redis comes back.
    pub fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let Some(url) = settings.redis_url() else {
            return Ok(Self::memory());
        };
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {:?}", e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(
                settings.redis.connection_timeout_ms,
            )))
            .set_response_timeout(Some(Duration::from_millis(
                settings.redis.response_timeout_ms,
            )))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self::Redis {
            conn,
            prefix: settings.redis.key_prefix.clone().into(),
        })
    }

    pub fn memory() -> Self {
        Self::memory_of(MEMORY_ENTRIES)
    }

    fn memory_of(capacity: u64) -> Self {
        Self::Memory(
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        )
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Self::Memory(_))
    }

    fn key(prefix: &str, key: &str) -> String {
        format!("{prefix}{key}")
    }

    /// Round trip to the store.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        match self {
            Self::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let _: String = redis::cmd("PING").query_async(&mut conn).await?;
                Ok(())
            }
            Self::Memory(_) => Ok(()),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, redis::RedisError> {
        match self {
            Self::Redis { conn, prefix } => conn.clone().get(Self::key(prefix, key)).await,
            Self::Memory(store) => Ok(store.get(key).map(|stored| stored.value)),
        }
    }

    pub async fn set_ex(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), redis::RedisError> {
        match self {
            Self::Redis { conn, prefix } => {
                conn.clone()
                    .set_ex(Self::key(prefix, key), value, ttl.as_secs().max(1))
                    .await
            }
            Self::Memory(store) => {
                store.insert(
                    key.to_owned(),
                    Stored {
                        value: value.to_owned(),
                        expires: Some(Instant::now() + ttl),
                    },
                );
                Ok(())
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), redis::RedisError> {
        match self {
            Self::Redis { conn, prefix } => conn.clone().del(Self::key(prefix, key)).await,
            Self::Memory(store) => {
                store.invalidate(key);
                Ok(())
            }
        }
    }

    /// Counts one more hit in a fixed window starting at the first hit. Returns the count
    /// and the seconds left in the window. Atomic across nodes (one Lua script).
    pub async fn incr_window(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, u64), redis::RedisError> {
        self.incr_window_by(key, 1, window).await
    }

    /// Adds `amount` to a counter in a fixed window starting at its first hit.
    pub async fn incr_window_by(
        &self,
        key: &str,
        amount: u64,
        window: Duration,
    ) -> Result<(u64, u64), redis::RedisError> {
        let window_secs = window.as_secs().max(1);
        match self {
            Self::Redis { conn, prefix } => {
                let script = redis::Script::new(
                    r"local n = redis.call('INCRBY', KEYS[1], ARGV[2])
                      local ttl = redis.call('TTL', KEYS[1])
                      if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
                      return {n, ttl}",
                );
                let (count, ttl): (u64, u64) = script
                    .key(Self::key(prefix, key))
                    .arg(window_secs)
                    .arg(amount)
                    .invoke_async(&mut conn.clone())
                    .await?;
                Ok((count, ttl))
            }
            Self::Memory(store) => {
                // One atomic step per key, as the Lua script is in Redis.
                let now = Instant::now();
                let window = Duration::from_secs(window_secs);
                let stored = store
                    .entry(key.to_owned())
                    .and_upsert_with(|current| {
                        let (count, expires) = match current.map(moka::Entry::into_value) {
                            Some(Stored {
                                value,
                                expires: Some(at),
                            }) if at > now => (value.parse::<u64>().unwrap_or(0), at),
                            _ => (0, now + window),
                        };
                        Stored {
                            value: count.saturating_add(amount).to_string(),
                            expires: Some(expires),
                        }
                    })
                    .into_value();
                let count = stored.value.parse::<u64>().unwrap_or(amount);
                let left = stored.expires.map_or(window_secs, |at| {
                    at.saturating_duration_since(now).as_secs_f64().ceil() as u64
                });
                Ok((count, left))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_is_bounded_and_keeps_the_counters_in_use() {
        const CAPACITY: u64 = 10_000;
        let cache = Cache::memory_of(CAPACITY);
        let Cache::Memory(store) = &cache else {
            unreachable!()
        };
        let window = Duration::from_secs(600);
        let flood = |from: u64| {
            let cache = cache.clone();
            async move {
                for i in from..from + 2 * CAPACITY {
                    cache
                        .incr_window(&format!("login_failures:{i}"), window)
                        .await
                        .unwrap();
                }
            }
        };
        // A store full of keys used once (invented logins)...
        flood(0).await;
        store.run_pending_tasks();
        assert!(store.entry_count() <= CAPACITY, "{}", store.entry_count());
        // ...then a login under attack: its counter is hit again and again...
        let mut counted = 0;
        for _ in 0..20 {
            counted = cache
                .incr_window("login_failures:target", window)
                .await
                .unwrap()
                .0;
            store.run_pending_tasks();
        }
        // ...and outlives the next flood.
        flood(1_000_000).await;
        store.run_pending_tasks();
        let (after, _) = cache
            .incr_window_by("login_failures:target", 0, window)
            .await
            .unwrap();
        assert!(store.entry_count() <= CAPACITY, "{}", store.entry_count());
        assert_eq!(after, counted, "the counter in use survived the flood");
    }

    #[tokio::test]
    async fn memory_windows_expire() {
        let cache = Cache::memory();
        let count = || async {
            cache
                .incr_window("k", Duration::from_secs(1))
                .await
                .unwrap()
        };
        assert_eq!(count().await, (1, 1));
        assert_eq!(count().await.0, 2);
        cache
            .set_ex("v", "x", Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(cache.get("v").await.unwrap(), None);
        assert_eq!(count().await.0, 1, "a new window");
    }
}
