//! DataLoaders: every relation and count is fetched for a whole batch in one query. Built
//! per request (or per WebSocket connection), so their caches never cross members.

pub mod users;

use async_graphql::dataloader::DataLoader;
use sqlx::PgPool;

pub struct Loaders {
    pub users: DataLoader<users::UserLoader>,
}

impl Loaders {
    pub fn new(db: &PgPool) -> Self {
        Self {
            users: DataLoader::new(users::UserLoader(db.clone()), tokio::spawn),
        }
    }
}
