//! Loaders for articles, their tags, comment threads, reactions and follows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::articles::{Article, listing};
use crate::domain::comments::{self, Comment};
use crate::domain::follows::{self, Followable};
use crate::domain::reactions::{self, Reactable};
use crate::domain::tags::{self, Tag};
use crate::error::AppError;

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<AppError>>;

fn shared(e: AppError) -> Arc<AppError> {
    Arc::new(e)
}

/// Articles by id, whatever their status: resolvers check visibility.
pub struct ArticleLoader(pub PgPool);

impl Loader<Uuid> for ArticleLoader {
    type Value = Article;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, Article> {
        let rows = listing::by_ids(&self.0, keys).await.map_err(shared)?;
        Ok(rows.into_iter().map(|a| (a.id, a)).collect())
    }
}

pub struct TagLoader(pub PgPool);

impl Loader<Uuid> for TagLoader {
    type Value = Tag;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, Tag> {
        let rows = tags::by_ids(&self.0, keys).await.map_err(shared)?;
        Ok(rows.into_iter().map(|t| (t.id, t)).collect())
    }
}

/// The tags of each article, in order.
pub struct ArticleTagsLoader(pub PgPool);

impl Loader<Uuid> for ArticleTagsLoader {
    type Value = Vec<Tag>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, Vec<Tag>> {
        tags::of_articles(&self.0, keys).await.map_err(shared)
    }
}

/// A whole comment thread, assembled in memory from one query.
#[derive(Default)]
pub struct Thread {
    pub comments: Vec<Comment>,
    /// Children of each comment (and of `None`, the roots), in creation order.
    pub children: HashMap<Option<Uuid>, Vec<usize>>,
    pub index: HashMap<Uuid, usize>,
}

impl Thread {
    fn new(comments: Vec<Comment>) -> Self {
        let mut children: HashMap<Option<Uuid>, Vec<usize>> = HashMap::new();
        let mut index = HashMap::new();
        for (i, c) in comments.iter().enumerate() {
            children.entry(c.parent_id).or_default().push(i);
            index.insert(c.id, i);
        }
        Self {
            comments,
            children,
            index,
        }
    }
}

/// Threads as `viewer` sees them: without the comments of members they blocked.
pub struct ThreadLoader {
    pub db: PgPool,
    pub viewer: Option<Uuid>,
}

impl Loader<Uuid> for ThreadLoader {
    type Value = Arc<Thread>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, Arc<Thread>> {
        let mut threads = comments::threads(&self.db, keys, self.viewer)
            .await
            .map_err(shared)?;
        Ok(keys
            .iter()
            .map(|k| {
                (
                    *k,
                    Arc::new(Thread::new(threads.remove(k).unwrap_or_default())),
                )
            })
            .collect())
    }
}

/// Comments by id (one query per batch), for `node(id:)`.
pub struct CommentLoader(pub PgPool);

impl Loader<Uuid> for CommentLoader {
    type Value = Comment;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, Comment> {
        let rows: Vec<Comment> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM comments WHERE id = ANY($1)",
            comments::COLUMNS
        )))
        .bind(keys)
        .fetch_all(&self.0)
        .await
        .map_err(|e| shared(e.into()))?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Public reaction counts per item.
pub struct ReactionCountsLoader {
    pub db: PgPool,
    pub settings: Arc<Settings>,
}

impl Loader<Reactable> for ReactionCountsLoader {
    type Value = Vec<(String, i32)>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Reactable]) -> LoadResult<Reactable, Vec<(String, i32)>> {
        reactions::counts(&self.db, &self.settings, keys)
            .await
            .map_err(shared)
    }
}

/// The viewer's reactions per item. Built per request for one viewer.
pub struct ViewerReactionsLoader {
    pub db: PgPool,
    pub viewer: Option<Uuid>,
}

impl Loader<Reactable> for ViewerReactionsLoader {
    type Value = Vec<String>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Reactable]) -> LoadResult<Reactable, Vec<String>> {
        match self.viewer {
            Some(viewer) => reactions::of_viewer(&self.db, viewer, keys)
                .await
                .map_err(shared),
            None => Ok(HashMap::new()),
        }
    }
}

/// Whether the viewer follows each member or tag. Built per request for one viewer.
pub struct FollowingLoader {
    pub db: PgPool,
    pub viewer: Option<Uuid>,
}

impl Loader<Followable> for FollowingLoader {
    type Value = bool;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Followable]) -> LoadResult<Followable, bool> {
        let followed: HashSet<Followable> = match self.viewer {
            Some(viewer) => follows::followed_by(&self.db, viewer, keys)
                .await
                .map_err(shared)?,
            None => HashSet::new(),
        };
        Ok(keys.iter().map(|k| (*k, followed.contains(k))).collect())
    }
}

/// A series: its title and its live articles in order.
pub struct SeriesLoader(pub PgPool);

impl Loader<Uuid> for SeriesLoader {
    type Value = (String, Vec<Article>);
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Uuid, (String, Vec<Article>)> {
        let titles = listing::series_titles(&self.0, keys)
            .await
            .map_err(shared)?;
        let articles = listing::of_series(&self.0, keys).await.map_err(shared)?;
        let mut map: HashMap<Uuid, (String, Vec<Article>)> = titles
            .into_iter()
            .map(|(id, title)| (id, (title, Vec::new())))
            .collect();
        for article in articles {
            if let Some(series_id) = article.series_id
                && let Some(entry) = map.get_mut(&series_id)
            {
                entry.1.push(article);
            }
        }
        Ok(map)
    }
}
