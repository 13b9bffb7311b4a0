use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::accounts::{User, repo};
use crate::error::AppError;

/// Members by id (deleted ones are absent).
pub struct UserLoader(pub PgPool);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        let users = repo::find_many(&self.0, keys)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}
