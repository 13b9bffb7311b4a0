//! What every handler and resolver shares: configuration and the infrastructure and domain
//! services of this node. Items of the layers above (assets, WebSocket slots, loaders) are
//! their own layer's data.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::cache::Cache;
use crate::config::{AppEnv, Settings};
use crate::jobs::JobContext;
use crate::mail::Mailer;
use crate::pubsub::PubSub;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: PgPool,
    pub cache: Cache,
    pub pubsub: PubSub,
    /// Turns true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Open WebSocket connections, waited for on shutdown.
    pub connections: TaskTracker,
    pub mailer: Arc<Mailer>,
    /// Where uploaded images go.
    pub storage: crate::storage::Storage,
    /// This node's article search index.
    pub search: Arc<crate::domain::search::index::SearchIndex>,
    /// Credentials checked lately (see [`crate::domain::accounts::recent`]).
    pub recent_credentials: Arc<crate::domain::accounts::recent::RecentCredentials>,
}

impl AppState {
    pub fn job_context(&self) -> JobContext {
        JobContext {
            db: self.db.clone(),
            settings: self.settings.clone(),
            mailer: self.mailer.clone(),
            pubsub: self.pubsub.clone(),
        }
    }

    /// Whether a browser page from `origin` may call us with credentials or open a
    /// WebSocket: our own public origin, the configured ones, and in development any
    /// localhost port.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        if origin.eq_ignore_ascii_case(&self.settings.public_origin()) {
            return true;
        }
        if self
            .settings
            .http
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
        {
            return true;
        }
        self.settings.app_env == AppEnv::Development && is_local_origin(origin)
    }
}

fn is_local_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(host, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            host
        } else {
            rest
        }
    });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}
