//! The key-value store: Redis through a connection manager, or an in-process map when
//! Redis is switched off (`REDIS_URL=""`, single-node mode).
//!
//! Every operation has a short timeout, so a Redis outage slows nothing down: callers
//! treat a failed cache operation as a miss.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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
    Memory(Arc<Mutex<MemoryStore>>),
}

/// The in-process store: at most [`MemoryStore::MAX_ENTRIES`] keys; when full, expired
/// keys go first, then the oldest.
#[derive(Default)]
pub struct MemoryStore {
    entries: HashMap<String, (String, Option<Instant>)>,
    /// Keys in the order they were first stored (some may be gone already).
    order: VecDeque<String>,
}

impl MemoryStore {
    pub const MAX_ENTRIES: usize = 100_000;

    /// Stores `key`, making room first when the store is full.
    fn insert(
        &mut self,
        key: &str,
        value: (String, Option<Instant>),
    ) -> &mut (String, Option<Instant>) {
        if !self.entries.contains_key(key) {
            if self.entries.len() >= Self::MAX_ENTRIES {
                let now = Instant::now();
                self.entries
                    .retain(|_, (_, expires)| expires.is_none_or(|e| e > now));
            }
            while self.entries.len() >= Self::MAX_ENTRIES {
                match self.order.pop_front() {
                    Some(oldest) => {
                        self.entries.remove(&oldest);
                    }
                    None => break,
                }
            }
            if self.order.len() >= 2 * Self::MAX_ENTRIES {
                let entries = &self.entries;
                self.order.retain(|k| entries.contains_key(k));
            }
            self.order.push_back(key.to_owned());
        }
        self.entries.insert(key.to_owned(), value);
        self.entries
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("just inserted"))
    }

    fn live(&mut self, key: &str) -> Option<&mut (String, Option<Instant>)> {
        let now = Instant::now();
        if self
            .entries
            .get(key)
            .is_some_and(|(_, exp)| exp.is_some_and(|e| e <= now))
        {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
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
        Self::Memory(Arc::default())
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
            Self::Memory(store) => Ok(lock(store).live(key).map(|(v, _)| v.clone())),
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
                lock(store).insert(key, (value.to_owned(), Some(Instant::now() + ttl)));
                Ok(())
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), redis::RedisError> {
        match self {
            Self::Redis { conn, prefix } => conn.clone().del(Self::key(prefix, key)).await,
            Self::Memory(store) => {
                lock(store).entries.remove(key);
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
                let mut store = lock(store);
                let now = Instant::now();
                if store.live(key).is_none() {
                    store.insert(
                        key,
                        ("0".to_owned(), Some(now + Duration::from_secs(window_secs))),
                    );
                }
                let Some(entry) = store.entries.get_mut(key) else {
                    return Ok((amount, window_secs));
                };
                let count = entry.0.parse::<u64>().unwrap_or(0).saturating_add(amount);
                entry.0 = count.to_string();
                let left = entry.1.map_or(window_secs, |e| {
                    e.saturating_duration_since(now).as_secs_f64().ceil() as u64
                });
                Ok((count, left))
            }
        }
    }
}

fn lock(store: &Mutex<MemoryStore>) -> std::sync::MutexGuard<'_, MemoryStore> {
    // A panic while holding the lock cannot leave the map half-updated in a way that
    // matters for a cache, so a poisoned lock is used as is.
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_is_bounded() {
        let cache = Cache::memory();
        let total = MemoryStore::MAX_ENTRIES + 500;
        for i in 0..total {
            cache
                .set_ex(&format!("k{i}"), "v", Duration::from_secs(60))
                .await
                .unwrap();
        }
        let Cache::Memory(store) = &cache else {
            unreachable!()
        };
        assert_eq!(lock(store).entries.len(), MemoryStore::MAX_ENTRIES);
        // The oldest went first; the newest are there.
        assert_eq!(cache.get("k0").await.unwrap(), None);
        assert_eq!(
            cache
                .get(&format!("k{}", total - 1))
                .await
                .unwrap()
                .as_deref(),
            Some("v")
        );
    }
}
