//! First pages of feeds for signed-out readers, kept in memory.
//!
//! A signed-out reader's first page of a feed is the same for everyone, so the answer to
//! one such request (the exact same body or query string) is kept and sent again until
//! anything a reader sees changes: Postgres notifies every node when it commits such a
//! change ([`crate::pubsub::PubSub::content_generation`]), and every page kept before is
//! dropped. Pages are kept at most [`MAX_AGE`] even then, at most [`MAX_PAGES`] of them;
//! requests with a credential, other operations, and answers with errors are never kept.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

/// The most pages kept; past it the store starts afresh.
pub const MAX_PAGES: usize = 512;
/// The longest a page is kept, in case a notification was lost while a node reconnected.
pub const MAX_AGE: Duration = Duration::from_secs(60);

pub type Key = [u8; 32];

struct Page {
    generation: u64,
    made: Instant,
    content_type: &'static str,
    body: Bytes,
}

#[derive(Default)]
pub struct SharedPages {
    pages: Mutex<HashMap<Key, Page>>,
}

impl SharedPages {
    /// The key of a request: its method, the body or query string, and the media type
    /// asked for.
    pub fn key(method: &str, request: &[u8], content_type: &str) -> Key {
        let mut hash = Sha256::new();
        hash.update(method.as_bytes());
        hash.update([0]);
        hash.update(content_type.as_bytes());
        hash.update([0]);
        hash.update(request);
        hash.finalize().into()
    }

    /// The page kept for `key`, if it was made at `generation` and is fresh.
    pub fn get(&self, key: &Key, generation: u64) -> Option<(&'static str, Bytes)> {
        let pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages
            .get(key)
            .filter(|p| p.generation == generation && p.made.elapsed() < MAX_AGE)
            .map(|p| (p.content_type, p.body.clone()))
    }

    pub fn put(&self, key: Key, generation: u64, content_type: &'static str, body: Bytes) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if pages.len() >= MAX_PAGES {
            pages.retain(|_, p| p.generation == generation && p.made.elapsed() < MAX_AGE);
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
        }
        pages.insert(
            key,
            Page {
                generation,
                made: Instant::now(),
                content_type,
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_stale_with_the_generation_and_stay_bounded() {
        let pages = SharedPages::default();
        let key = SharedPages::key("POST", b"{}", "application/json");
        pages.put(key, 1, "application/json", Bytes::from_static(b"page"));
        assert!(pages.get(&key, 1).is_some());
        assert!(pages.get(&key, 2).is_none());
        for i in 0..(MAX_PAGES * 2) {
            pages.put(
                SharedPages::key("GET", &i.to_le_bytes(), ""),
                3,
                "x",
                Bytes::new(),
            );
        }
        assert!(pages.pages.lock().unwrap().len() <= MAX_PAGES);
    }
}
