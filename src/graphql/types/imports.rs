use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::imports::Source;
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::types::content::ArticleNode;

/// What an imported entry becomes.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedImportMode {
    /// A draft, for the member to look over and publish.
    #[default]
    Draft,
    /// A published article, dated as the entry (or now, for an entry dated in the future).
    Publish,
}

pub struct FeedSourceNode(pub Source);

impl NodeType for FeedSourceNode {
    const TYPE_NAME: &'static str = "FeedSource";
    type Id = Uuid;
}

#[Object(name = "FeedSource")]
/// A feed (RSS, Atom or JSON Feed) the member imports: fetched every
/// `feed_import.interval_minutes` (60), each new entry made an article of theirs once.
impl FeedSourceNode {
    /// The source's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The feed's address.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Whether articles made from it take the entry's link as their canonical URL.
    async fn mark_canonical(&self) -> bool {
        self.0.mark_canonical
    }
    /// What its entries become.
    async fn publish(&self) -> FeedImportMode {
        if self.0.publish {
            FeedImportMode::Publish
        } else {
            FeedImportMode::Draft
        }
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last fetched; null before the first fetch.
    async fn last_fetched_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_fetched_at
    }
    /// Why the last fetch failed (too large, too slow, not a feed, redirected...) or
    /// which entries it skipped; null when all went well.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it will be fetched next.
    async fn next_fetch_at(&self) -> DateTime<Utc> {
        self.0.next_fetch_at
    }
    /// The articles it made that still exist, newest first (at most 20).
    async fn articles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ArticleNode>> {
        let loaders = ctx.loaders();
        let ids = loaders
            .source_articles
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        let found = loaders.articles.load_many(ids.iter().copied()).await?;
        let viewer = ctx.viewer();
        Ok(ids
            .iter()
            .filter_map(|id| found.get(id))
            .filter(|a| a.visible_to(viewer))
            .cloned()
            .map(ArticleNode)
            .collect())
    }
}
