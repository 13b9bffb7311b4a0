//! Postgres: the pool, creating the database in development, and embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::{AppEnv, Settings, redact_url};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)
        .with_context(|| {
            format!(
                "DATABASE_URL is not a valid Postgres URL ({})",
                redact_url(url)
            )
        })?
        .application_name("vibecoding")
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// Opens the pool. Broken connections are tested before use and replaced, so the pool
/// recovers by itself after a database restart.
pub async fn connect(settings: &Settings) -> anyhow::Result<PgPool> {
    let url = settings.database_url();
    let options = connect_options(&url)?;
    if settings.database.create_if_missing && settings.app_env != AppEnv::Production {
        create_database_if_missing(&options).await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        .min_connections(settings.database.min_connections)
        .acquire_timeout(Duration::from_millis(settings.database.acquire_timeout_ms))
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(true)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to Postgres at {}", redact_url(&url)))?;
    Ok(pool)
}

/// Creates the database named in `options` when it does not exist yet.
pub async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("cannot connect to Postgres to create the database")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it in the meantime (duplicate_database, or the
            // unique_violation Postgres reports when both create at the same instant).
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {}
            Err(e) => return Err(e).context("cannot create the database"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// Applies pending migrations. sqlx holds a Postgres advisory lock while it migrates, so
/// nodes booting together apply each migration exactly once.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("migrations failed")?;
    Ok(())
}
