//! DataLoaders: every relation and count is fetched for a whole batch in one query. Built
//! per request (or per WebSocket connection), so their caches never cross members.

pub mod content;
pub mod users;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
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

/// Batches run in their own tasks; they keep the request's span, so their statements are
/// logged (and counted) with the request.
fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_span())
}

impl Loaders {
    /// Loaders for one request by `viewer` (anonymous when `None`).
    pub fn new(db: &PgPool, settings: &Arc<Settings>, viewer: Option<Uuid>) -> Self {
        Self {
            users: DataLoader::new(users::UserLoader(db.clone()), spawn),
            articles: DataLoader::new(content::ArticleLoader(db.clone()), spawn),
            tags: DataLoader::new(content::TagLoader(db.clone()), spawn),
            article_tags: DataLoader::new(content::ArticleTagsLoader(db.clone()), spawn),
            threads: DataLoader::new(content::ThreadLoader(db.clone()), spawn),
            comments: DataLoader::new(content::CommentLoader(db.clone()), spawn),
            reaction_counts: DataLoader::new(
                content::ReactionCountsLoader {
                    db: db.clone(),
                    settings: settings.clone(),
                },
                spawn,
            ),
            viewer_reactions: DataLoader::new(
                content::ViewerReactionsLoader {
                    db: db.clone(),
                    viewer,
                },
                spawn,
            ),
            following: DataLoader::new(
                content::FollowingLoader {
                    db: db.clone(),
                    viewer,
                },
                spawn,
            ),
            series: DataLoader::new(content::SeriesLoader(db.clone()), spawn),
        }
    }
}
