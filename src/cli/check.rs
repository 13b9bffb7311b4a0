//! `check`: the health checks from the command line.

use std::time::{Duration, Instant};

use super::CheckTarget;
use crate::config::Settings;
use crate::{db, health};

/// `check`: the health checks from the command line, one line each.
pub async fn command(settings: &Settings, target: CheckTarget) -> anyhow::Result<()> {
    let budget = Duration::from_millis(settings.http.health_check_timeout_ms.max(1_000));
    let mut failed = Vec::new();
    let want = |t: CheckTarget| target == CheckTarget::All || target == t;
    if want(CheckTarget::App) {
        println!("app        ok      {}", env!("CARGO_PKG_VERSION"));
    }
    if want(CheckTarget::Database) {
        let started = Instant::now();
        // The connection, the check and the migration list together, bounded as a whole.
        let whole = budget * 3;
        let result = tokio::time::timeout(whole, async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(budget)
                .connect(&settings.database_url())
                .await
                .map_err(|e| e.to_string())?;
            let checked = health::database(&pool, budget).await;
            let pending = match checked {
                Ok(()) => db::migration_status(&pool)
                    .await
                    .map(|m| m.iter().filter(|m| m.applied_at.is_none()).count())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            pool.close().await;
            match pending? {
                0 => Ok("connected".to_owned()),
                n => Ok(format!("connected, {n} migrations pending")),
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {whole:?}")));
        report("database", started, result, &mut failed);
    }
    if want(CheckTarget::Cache) {
        let started = Instant::now();
        let result = match crate::cache::Cache::connect(settings) {
            Ok(cache) if cache.is_embedded() => Ok("in-process (REDIS_URL is empty)".to_owned()),
            Ok(cache) => health::cache(&cache, budget)
                .await
                .map(|()| "PONG".to_owned())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        report("cache", started, result, &mut failed);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("not connected: {}", failed.join(", "))
    }
}

fn report(
    name: &'static str,
    started: std::time::Instant,
    result: Result<String, String>,
    failed: &mut Vec<&'static str>,
) {
    let ms = started.elapsed().as_secs_f64() * 1_000.0;
    match result {
        Ok(detail) => println!("{name:<10} ok      {ms:>7.1} ms  {detail}"),
        Err(error) => {
            println!("{name:<10} FAILED  {ms:>7.1} ms  {error}");
            failed.push(name);
        }
    }
}
