use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sqlx::PgPool;

use crate::domain::accounts::{User, repo};
use crate::error::AppError;
use crate::ids::UserId;

/// Members by id (deleted ones are absent).
pub struct UserLoader(pub PgPool);

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, Self::Error> {
        let users = repo::find_many(&self.0, keys)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}
