//! Events for live subscriptions. They carry ids only: a subscriber re-reads the entity
//! through its own loaders and checks what its viewer may see, so a draft, a hidden comment
//! or anything since deleted never reaches anyone. Published after the transaction that
//! made them has committed; a failure to publish is logged, never an error for the writer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::pubsub::PubSub;

/// Every newly live article.
pub const ARTICLES: &str = "articles";

pub fn comments(article: Uuid) -> String {
    format!("comments:{article}")
}

pub fn notifications(user: Uuid) -> String {
    format!("notifications:{user}")
}

/// A member's sessions, keys or standing changed (from Postgres, see
/// [`crate::pubsub::PubSub::with_database_listener`]).
pub fn credentials(user: Uuid) -> String {
    format!("credentials:{user}")
}

/// The Postgres channel the credential triggers notify.
pub const CREDENTIALS_NOTIFY: &str = "credentials";

/// The Postgres channel notified when anything readers see changes.
pub const CONTENT_NOTIFY: &str = "content";

/// The Postgres channel on which the search-index change log announces new entries (see
/// [`crate::domain::search::index`]).
pub const SEARCH_NOTIFY: &str = "search";

pub fn reactions(article: Uuid) -> String {
    format!("reactions:{article}")
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub id: Uuid,
}

pub async fn publish(pubsub: &PubSub, channel: &str, id: Uuid) {
    let payload = serde_json::json!({ "id": id }).to_string();
    if let Err(e) = pubsub.publish(channel, &payload).await {
        tracing::warn!(channel, error = %e, "could not publish a live event");
    }
}

pub fn parse(payload: &str) -> Option<Event> {
    serde_json::from_str(payload).ok()
}
