//! Credentials checked lately, so a member's every request does not cost a statement.
//!
//! A credential (by the hash of its token) is answered from here for at most
//! [`MAX_AGE`], and only while the node's credential generation is the one it was checked
//! under. The generation moves when Postgres notifies a change (a session or key gone, an
//! expiry brought forward, a member's standing changed: triggers, whichever code path
//! made it, on any node), when this node runs any mutation (so its own next request never
//! races the notification), and when the listener reconnects; while the listener is down
//! nothing is answered from here. An expired session is refused whatever was kept.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Viewer;

pub const MAX_AGE: Duration = Duration::from_secs(10);
pub const MAX_ENTRIES: usize = 10_000;

struct Checked {
    viewer: Viewer,
    generation: u64,
    at: Instant,
}

#[derive(Default)]
pub struct RecentCredentials {
    checked: Mutex<HashMap<Vec<u8>, Checked>>,
}

impl RecentCredentials {
    pub fn get(&self, token_hash: &[u8], generation: u64) -> Option<Viewer> {
        let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = checked.get(token_hash)?;
        let fresh = entry.generation == generation
            && entry.at.elapsed() < MAX_AGE
            && entry
                .viewer
                .expires_at
                .is_none_or(|at| at > chrono::Utc::now());
        fresh.then(|| entry.viewer.clone())
    }

    pub fn put(&self, token_hash: Vec<u8>, generation: u64, viewer: Viewer) {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if checked.len() >= MAX_ENTRIES {
            checked.retain(|_, c| c.generation == generation && c.at.elapsed() < MAX_AGE);
            if checked.len() >= MAX_ENTRIES {
                checked.clear();
            }
        }
        checked.insert(
            token_hash,
            Checked {
                viewer,
                generation,
                at: Instant::now(),
            },
        );
    }
}
