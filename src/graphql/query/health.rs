use async_graphql::{Context, Enum, Object};

use crate::graphql::context::ContextExt as _;
use crate::health;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// Whether a dependency answered its check in time.
pub enum ServiceStatus {
    /// It answered.
    Up,
    /// It failed or did not answer within the health budget.
    Down,
}

impl<E> From<Result<(), E>> for ServiceStatus {
    fn from(result: Result<(), E>) -> Self {
        if result.is_ok() { Self::Up } else { Self::Down }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// Where rate limits, caches and live events are kept.
pub enum CacheMode {
    /// Redis, shared by every node.
    Redis,
    /// In-process, single node (`REDIS_URL` empty).
    Embedded,
}

/// The state of this node and its dependencies. Each field checks only when asked.
pub struct Health;

#[Object]
/// The state of this node and its dependencies. Each field checks only when asked.
impl Health {
    /// Always UP: this node answered.
    async fn app(&self) -> ServiceStatus {
        ServiceStatus::Up
    }

    /// Postgres: one `SELECT 1` within the health budget.
    async fn database(&self, ctx: &Context<'_>) -> ServiceStatus {
        health::database(&ctx.state().db, health::budget(&ctx.state().settings))
            .await
            .into()
    }

    /// Redis (or the in-process store): one `PING` within the health budget.
    async fn cache(&self, ctx: &Context<'_>) -> ServiceStatus {
        health::cache(&ctx.state().cache, health::budget(&ctx.state().settings))
            .await
            .into()
    }

    /// Milliseconds one `SELECT 1` took from this node; null when the database is down.
    async fn database_latency_ms(&self, ctx: &Context<'_>) -> Option<f64> {
        let started = std::time::Instant::now();
        health::database(&ctx.state().db, health::budget(&ctx.state().settings))
            .await
            .ok()?;
        Some(started.elapsed().as_secs_f64() * 1_000.0)
    }

    /// Milliseconds one Redis `PING` took from this node; null when Redis is down.
    async fn cache_latency_ms(&self, ctx: &Context<'_>) -> Option<f64> {
        let started = std::time::Instant::now();
        health::cache(&ctx.state().cache, health::budget(&ctx.state().settings))
            .await
            .ok()?;
        Some(started.elapsed().as_secs_f64() * 1_000.0)
    }

    /// Whether this node shares Redis with the others or keeps state in process.
    async fn cache_mode(&self, ctx: &Context<'_>) -> CacheMode {
        if ctx.state().cache.is_embedded() {
            CacheMode::Embedded
        } else {
            CacheMode::Redis
        }
    }

    /// Whether this node answers article searches from its own index (UP), or from
    /// Postgres while it builds the index (DOWN: searches still work, more slowly).
    async fn search_index(&self, ctx: &Context<'_>) -> ServiceStatus {
        if ctx.state().search.ready() {
            ServiceStatus::Up
        } else {
            ServiceStatus::Down
        }
    }

    /// The server's version.
    async fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}

#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// The state of this node and of Postgres and Redis.
    async fn health(&self) -> Health {
        Health
    }
}
