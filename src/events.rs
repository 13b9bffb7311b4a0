//! Events for live subscriptions. They carry ids only: a subscriber re-reads the entity
//! through its own loaders and checks what its viewer may see, so a draft, a hidden comment
//! or anything since deleted never reaches anyone. Published after the transaction that
//! made them has committed; a failure to publish is logged, never an error for the writer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ArticleId, UserId};
use crate::pubsub::PubSub;

/// Every newly live article.
pub const ARTICLES: &str = "articles";

pub fn comments(article: ArticleId) -> String {
    format!("comments:{article}")
}

pub fn notifications(user: UserId) -> String {
    format!("notifications:{user}")
}

pub use crate::pubsub::{CONTENT_NOTIFY, CREDENTIALS_NOTIFY, SEARCH_NOTIFY, credentials};

pub fn reactions(article: ArticleId) -> String {
    format!("reactions:{article}")
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub id: Uuid,
}

pub async fn publish(pubsub: &PubSub, channel: &str, id: impl Into<Uuid>) {
    let id: Uuid = id.into();
    let payload = serde_json::json!({ "id": id }).to_string();
    if let Err(e) = pubsub.publish(channel, &payload).await {
        tracing::warn!(channel, error = %e, "could not publish a live event");
    }
}

pub fn parse(payload: &str) -> Option<Event> {
    serde_json::from_str(payload).ok()
}
