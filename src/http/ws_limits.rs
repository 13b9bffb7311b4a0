//! Bounds on live connections: WebSockets per client address and per member (on this
//! node); subscriptions per connection are bounded in `graphql::api`. A slot is held by a guard and given back when
//! the guard drops, however the connection or subscription ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Default)]
pub struct Counters(Arc<Mutex<HashMap<String, usize>>>);

pub struct Slot {
    counters: Counters,
    key: String,
}

impl Counters {
    /// Takes a slot for `key` unless `max` are taken.
    pub fn acquire(&self, key: String, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let used = map.entry(key.clone()).or_default();
        if *used >= max {
            return None;
        }
        *used += 1;
        Some(Slot {
            counters: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .counters
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(used) = map.get_mut(&self.key) {
            *used = used.saturating_sub(1);
            if *used == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Counts one open WebSocket while it lives.
pub struct OpenSocket;

impl OpenSocket {
    pub fn open() -> Self {
        metrics::gauge!("websocket_connections").increment(1.0);
        Self
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!("websocket_connections").decrement(1.0);
    }
}
