//! Live subscriptions: new articles, threads as they change, reaction counts. Each event
//! names an id (and, for a comment already there, what happened to it); the entity is
//! re-read and checked (a live article, a comment its subscriber may see) before it reaches
//! the subscriber, whose connection's loaders resolve its fields.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;

use crate::domain::articles::Article;
use crate::domain::reactions::Reactable;
use crate::domain::{accounts, blocks};
use crate::error::AppError;
use crate::events;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::EventLoaders;
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::content::{ArticleNode, CommentNode, ReactionCount};
use crate::ids::{ArticleId, UserId};
use crate::state::AppState;

/// Reaction counts of an article after a change.
#[derive(SimpleObject)]
pub struct ReactionCountsUpdate {
    /// The article's global ID.
    pub article_id: ID,
    /// Its reactions of every category.
    pub reactions_count: i32,
    /// Its new score.
    pub score: i32,
    /// Its public reactions per category.
    pub reaction_counts: Vec<ReactionCount>,
}

/// What a live stream re-reads its events with: the node's state and the event loaders
/// (schema data, shared by every subscriber).
#[derive(Clone)]
struct Live {
    state: AppState,
    loaders: Arc<EventLoaders>,
}

impl Live {
    fn of(ctx: &Context<'_>) -> Self {
        Self {
            state: ctx.state().clone(),
            loaders: ctx.data_unchecked::<Arc<EventLoaders>>().clone(),
        }
    }
}

impl std::ops::Deref for Live {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

/// Turns a channel into a stream of what `accept` makes of each event. A subscriber that
/// falls behind loses the oldest events (logged), never grows memory.
fn watch<T, F, Fut>(
    state: &Live,
    channel: &str,
    accept: F,
) -> impl Stream<Item = T> + use<T, F, Fut>
where
    T: Send + 'static,
    F: Fn(Live, events::Event) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<T>> + Send,
{
    let rx = state.pubsub.subscribe(channel);
    let state = state.clone();
    let accept = Arc::new(accept);
    futures_util::stream::unfold(rx, move |mut rx| {
        let state = state.clone();
        let accept = accept.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(payload) => {
                        let Some(event) = events::parse(&payload) else {
                            continue;
                        };
                        if let Some(item) = accept(state.clone(), event).await {
                            return Some((item, rx));
                        }
                    }
                    Err(RecvError::Lagged(lost)) => state.pubsub.count_lost(lost),
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    })
}

async fn live_article(state: &Live, id: ArticleId) -> Option<Article> {
    state
        .loaders
        .articles
        .load_one(id)
        .await
        .ok()
        .flatten()
        .filter(Article::is_live)
}

/// Whom the subscriber blocked, read once when the subscription starts.
async fn blocked_by_viewer(ctx: &Context<'_>) -> async_graphql::Result<Vec<UserId>> {
    Ok(match ctx.viewer() {
        Some(viewer) => blocks::blocked_by(&ctx.state().db, viewer.user_id).await?,
        None => Vec::new(),
    })
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Articles as they go live, optionally only with a tag or by a member.
    async fn article_published(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only articles with this tag.")] tag: Option<String>,
        #[graphql(desc = "Only articles by this member.")] username: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ArticleNode> + use<>> {
        let state = &Live::of(ctx);
        let author = match username {
            Some(name) => Some(
                accounts::repo::find_by_username(&state.db, name.trim())
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("No member named {name}")))?
                    .id,
            ),
            None => None,
        };
        let tag = tag.map(|t| t.trim().trim_start_matches('#').to_lowercase());
        let blocked = Arc::new(blocked_by_viewer(ctx).await?);
        Ok(watch(state, events::ARTICLES, move |state, event| {
            let tag = tag.clone();
            let blocked = blocked.clone();
            async move {
                let article = live_article(&state, event.id.into()).await?;
                let tag_ok = tag.as_ref().is_none_or(|t| article.tag_names.contains(t));
                let author_ok = author.is_none_or(|a| a == article.user_id)
                    && !blocked.contains(&article.user_id);
                (tag_ok && author_ok).then_some(ArticleNode(article))
            }
        }))
    }

    /// New comments on a live article, as they are posted; hidden and deleted ones are not
    /// sent. `threadChanged` sends these and every later change.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a live article.")] article_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = CommentNode> + use<>> {
        let stream = thread_events(ctx, &article_id, true).await?;
        Ok(stream.map(|change| change.comment))
    }

    /// Everything that happens in a live article's thread, as it happens: new comments
    /// (not hidden or deleted ones), edits, comments hidden or shown again, deletions.
    /// Each change carries the comment as it is now, so a client cache that normalises by
    /// `id` shows the new state.
    async fn thread_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a live article.")] article_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = ThreadChange> + use<>> {
        thread_events(ctx, &article_id, false).await
    }

    /// An article's public reaction counts each time they change.
    async fn reaction_counts_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a live article.")] article_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = ReactionCountsUpdate> + use<>> {
        let id = node::decode_as::<ArticleNode>(&article_id)?;
        let state = &Live::of(ctx);
        live_article(state, id)
            .await
            .ok_or_else(|| AppError::NotFound("No such article".to_owned()))?;
        Ok(watch(
            state,
            &events::reactions(id),
            move |state, _| async move {
                let article = live_article(&state, id).await?;
                let item = Reactable::Article(id);
                let counts = state
                    .loaders
                    .reaction_counts
                    .load_one(item)
                    .await
                    .ok()?
                    .unwrap_or_default();
                let order: Vec<&str> = state
                    .settings
                    .reactions
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                let mut reaction_counts: Vec<ReactionCount> = counts
                    .into_iter()
                    .map(|(category, count)| ReactionCount { category, count })
                    .collect();
                reaction_counts.sort_by_key(|c| order.iter().position(|n| *n == c.category));
                Some(ReactionCountsUpdate {
                    article_id: ArticleNode::global_id(id),
                    reactions_count: article.reactions_count,
                    score: article.score,
                    reaction_counts,
                })
            },
        ))
    }
}

/// What happened to a comment in a thread.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ThreadChangeKind {
    /// A new comment or reply.
    Added,
    /// Its author edited it (`editedAt` moved).
    Edited,
    /// Hidden by the article's author or a moderator: others see a note instead of its text.
    Hidden,
    /// Shown again after being hidden.
    Shown,
    /// Deleted: it stays in the thread as `[deleted]`.
    Deleted,
}

/// One change in a thread: what happened, and the comment as it is now.
#[derive(SimpleObject)]
pub struct ThreadChange {
    /// What happened.
    pub kind: ThreadChangeKind,
    /// The comment after the change.
    pub comment: CommentNode,
}

/// The changes in a live article's thread as the viewer may see them (only new comments
/// when `added_only`): never a comment by a member they blocked, never a new comment
/// already hidden or deleted.
async fn thread_events(
    ctx: &Context<'_>,
    article_id: &ID,
    added_only: bool,
) -> async_graphql::Result<impl Stream<Item = ThreadChange> + use<>> {
    let id = node::decode_as::<ArticleNode>(article_id)?;
    let state = &Live::of(ctx);
    let article = live_article(state, id)
        .await
        .ok_or_else(|| AppError::NotFound("No such article".to_owned()))?;
    let author = article.user_id;
    let blocked = Arc::new(blocked_by_viewer(ctx).await?);
    Ok(watch(state, &events::comments(id), move |state, event| {
        let blocked = blocked.clone();
        async move {
            if added_only && event.change.is_some() {
                return None;
            }
            let comment = state
                .loaders
                .comments
                .load_one(event.id.into())
                .await
                .ok()
                .flatten()?;
            let kind = match event.change {
                None => ThreadChangeKind::Added,
                Some(events::Change::Edited) => ThreadChangeKind::Edited,
                Some(events::Change::Hidden) => ThreadChangeKind::Hidden,
                Some(events::Change::Shown) => ThreadChangeKind::Shown,
                Some(events::Change::Deleted) => ThreadChangeKind::Deleted,
            };
            let gone = comment.deleted_at.is_some() || comment.hidden_at.is_some();
            let visible = comment.article_id == id
                && !blocked.contains(&comment.user_id)
                && !(kind == ThreadChangeKind::Added && gone);
            visible.then_some(ThreadChange {
                kind,
                comment: CommentNode {
                    comment,
                    thread: None,
                    article_author: author,
                },
            })
        }
    }))
}
