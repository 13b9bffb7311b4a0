//! DataLoaders: every relation and count is fetched for a whole batch in one query. Built
//! per request (or per WebSocket connection), so their caches never cross members.

pub mod content;
pub mod users;

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::config::Settings;

pub struct Loaders {
    pub users: DataLoader<users::UserLoader>,
    pub articles: DataLoader<content::ArticleLoader>,
    pub tags: DataLoader<content::TagLoader>,
    pub article_tags: DataLoader<content::ArticleTagsLoader>,
    pub threads: DataLoader<content::ThreadLoader>,
    pub comments: DataLoader<content::CommentLoader>,
    pub reaction_counts: DataLoader<content::ReactionCountsLoader>,
    pub viewer_reactions: DataLoader<content::ViewerReactionsLoader>,
    pub following: DataLoader<content::FollowingLoader>,
    pub series: DataLoader<content::SeriesLoader>,
}

/// Loaders shared by every subscription of this process, without a cache: when one event
/// reaches a thousand subscribers, their thousand re-reads of the entity become one query.
/// Nothing is cached, so nothing is shared between members but the batching.
pub struct EventLoaders {
    pub articles: DataLoader<content::ArticleLoader>,
    pub comments: DataLoader<content::CommentLoader>,
    pub reaction_counts: DataLoader<content::ReactionCountsLoader>,
}

impl EventLoaders {
    pub fn new(db: &PgPool, settings: &Arc<Settings>) -> Self {
        let delay = Duration::from_millis(settings.graphql.loader_delay_ms);
        Self {
            articles: batch(content::ArticleLoader(db.clone()), delay),
            comments: batch(content::CommentLoader(db.clone()), delay),
            reaction_counts: batch(
                content::ReactionCountsLoader {
                    db: db.clone(),
                    settings: settings.clone(),
                },
                delay,
            ),
        }
    }
}

/// A loader whose batches run in their own tasks, keeping the request's span (so their
/// statements are logged with the request), and gather keys for `delay`.
fn batch<L, K>(loader: L, delay: Duration) -> DataLoader<L>
where
    L: Loader<K>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    DataLoader::new(loader, |future| tokio::spawn(future.in_current_span())).delay(delay)
}

impl Loaders {
    /// Loaders for one request by `viewer` (anonymous when `None`).
    pub fn new(db: &PgPool, settings: &Arc<Settings>, viewer: Option<Uuid>) -> Self {
        let delay = Duration::from_millis(settings.graphql.loader_delay_ms);
        let reaction_counts = content::ReactionCountsLoader {
            db: db.clone(),
            settings: settings.clone(),
        };
        Self {
            users: batch(users::UserLoader(db.clone()), delay),
            articles: batch(content::ArticleLoader(db.clone()), delay),
            tags: batch(content::TagLoader(db.clone()), delay),
            article_tags: batch(content::ArticleTagsLoader(db.clone()), delay),
            threads: batch(
                content::ThreadLoader {
                    db: db.clone(),
                    viewer,
                },
                delay,
            ),
            comments: batch(content::CommentLoader(db.clone()), delay),
            reaction_counts: batch(reaction_counts, delay),
            viewer_reactions: batch(
                content::ViewerReactionsLoader {
                    db: db.clone(),
                    viewer,
                },
                delay,
            ),
            following: batch(
                content::FollowingLoader {
                    db: db.clone(),
                    viewer,
                },
                delay,
            ),
            series: batch(content::SeriesLoader(db.clone()), delay),
        }
    }
}
