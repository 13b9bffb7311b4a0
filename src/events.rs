//! Events for live subscriptions. They carry ids (and, for a comment already in a thread,
//! what happened to it): a subscriber re-reads the entity through its own loaders and
//! checks what its viewer may see, so a draft never reaches anyone, and a hidden or
//! deleted comment reaches a thread's subscribers only as what each of them may see of it. Published after the transaction that
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
    /// What happened to an entity that was there before; `None` for a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// What happened to a comment already in a thread (its channel is the article's
/// [`comments`] channel, beside the new comments).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Edited,
    Hidden,
    Shown,
    Deleted,
}

/// Announces a new entity.
pub async fn publish(pubsub: &PubSub, channel: &str, id: impl Into<Uuid>) {
    send(pubsub, channel, id.into(), None).await;
}

/// Announces a change to an entity subscribers may already hold.
pub async fn publish_change(pubsub: &PubSub, channel: &str, id: impl Into<Uuid>, change: Change) {
    send(pubsub, channel, id.into(), Some(change)).await;
}

async fn send(pubsub: &PubSub, channel: &str, id: Uuid, change: Option<Change>) {
    let payload = serde_json::json!(Event { id, change }).to_string();
    if let Err(e) = pubsub.publish(channel, &payload).await {
        tracing::warn!(channel, error = %e, "could not publish a live event");
    }
}

pub fn parse(payload: &str) -> Option<Event> {
    serde_json::from_str(payload).ok()
}
