//! Records a member reaches by id only as their owner or as a moderator (sessions, API keys,
//! notifications, images, reports, audit entries): one statement per batch of ids, each
//! finder deciding what the request's viewer may read.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use futures_util::future::BoxFuture;
use sqlx::PgPool;

use crate::error::AppError;
use crate::ids::UserId;

/// Reads the rows among `ids` that the signed-in `viewer` may see.
pub type Finder<K, V> = fn(PgPool, UserId, Vec<K>) -> BoxFuture<'static, Result<Vec<V>, AppError>>;

/// A loader of records by id through a [`Finder`], for one request's viewer.
pub struct Records<K, V> {
    db: PgPool,
    viewer: Option<UserId>,
    find: Finder<K, V>,
    key: fn(&V) -> K,
}

impl<K, V> Records<K, V> {
    pub fn new(db: &PgPool, viewer: Option<UserId>, find: Finder<K, V>, key: fn(&V) -> K) -> Self {
        Self {
            db: db.clone(),
            viewer,
            find,
            key,
        }
    }
}

impl<K, V> Loader<K> for Records<K, V>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    type Value = V;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, V>, Self::Error> {
        // Signed out, none of these records can be seen.
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let rows = (self.find)(self.db.clone(), viewer, keys.to_vec())
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|row| ((self.key)(&row), row))
            .collect())
    }
}
