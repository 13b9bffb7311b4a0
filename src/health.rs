//! Dependency checks shared by the REST health checks, the `health` query and the CLI.
//! Each answers within the configured budget even when the dependency hangs.

use std::time::Duration;

use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Failed(String),
}

fn budget(state: &AppState) -> Duration {
    Duration::from_millis(state.settings.http.health_check_timeout_ms)
}

pub async fn database(state: &AppState) -> Result<(), CheckError> {
    let limit = budget(state);
    let result = match tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.db)).await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(CheckError::Failed(e.to_string())),
        Err(_) => Err(CheckError::Timeout(limit)),
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "health check: database not connected");
    }
    result
}

pub async fn cache(state: &AppState) -> Result<(), CheckError> {
    let limit = budget(state);
    let result = match tokio::time::timeout(limit, state.cache.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CheckError::Failed(e.to_string())),
        Err(_) => Err(CheckError::Timeout(limit)),
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "health check: cache not connected");
    }
    result
}
