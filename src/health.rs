//! Dependency checks shared by the REST health checks, the `health` query and the CLI.
//! Each answers within the configured budget even when the dependency hangs.

use std::time::Duration;

use sqlx::PgPool;

use crate::cache::Cache;
use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Failed(String),
}

/// How long a check may take before it counts as failed.
pub fn budget(settings: &Settings) -> Duration {
    Duration::from_millis(settings.http.health_check_timeout_ms)
}

pub async fn database(db: &PgPool, limit: Duration) -> Result<(), CheckError> {
    let result = match tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(db)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(CheckError::Failed(e.to_string())),
        Err(_) => Err(CheckError::Timeout(limit)),
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "health check: database not connected");
    }
    result
}

pub async fn cache(cache: &Cache, limit: Duration) -> Result<(), CheckError> {
    let result = match tokio::time::timeout(limit, cache.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CheckError::Failed(e.to_string())),
        Err(_) => Err(CheckError::Timeout(limit)),
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "health check: cache not connected");
    }
    result
}
