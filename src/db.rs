//! Postgres: the pool, creating the database in development, and embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::{AppEnv, Settings, redact_url};

/// How long a pooled connection may sit idle before it is tested on its next use.
const TEST_IDLE_AFTER: Duration = Duration::from_secs(10);

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

/// Who a pool is for: statements of the server are cut short sooner than the worker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Server,
    Background,
}

/// Opens the pool. A connection idle for longer than [`TEST_IDLE_AFTER`] is tested before
/// use and replaced when broken, so the pool recovers by itself after a database restart;
/// a connection in steady use is not (sqlx already tests each one as it is released, and
/// a test before every acquire doubled the round trips of every statement). Every
/// connection carries the purpose's `statement_timeout`, so no query holds one for long.
pub async fn connect(settings: &Settings, purpose: Purpose) -> anyhow::Result<PgPool> {
    let url = settings.database_url();
    let timeout = match purpose {
        Purpose::Server => settings.database.statement_timeout_ms,
        Purpose::Background => settings.database.background_statement_timeout_ms,
    };
    let options = connect_options(&url)?.options([("statement_timeout", format!("{timeout}ms"))]);
    if settings.database.create_if_missing && settings.app_env != AppEnv::Production {
        create_database_if_missing(&options).await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        .min_connections(settings.database.min_connections)
        .acquire_timeout(Duration::from_millis(settings.database.acquire_timeout_ms))
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > TEST_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to Postgres at {}", redact_url(&url)))?;
    Ok(pool)
}

/// A small pool of its own for a background loop of the server (named `name` in
/// `pg_stat_activity`), connecting as `pool` does: the loop never waits behind requests,
/// nor they behind it.
pub fn side_pool(pool: &PgPool, name: &str, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_lazy_with((*pool.connect_options()).clone().application_name(name))
}

/// Creates the database named in `options` when it does not exist yet.
pub async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("cannot connect to Postgres to create the database")?;
    // Setting up is not serving: the requests' statement timeout does not apply (a first
    // catalog lookup on a cold server can take longer than a short one).
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut admin)
        .await?;
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

/// Applies pending migrations, on one connection without a statement timeout (an index
/// on a large table takes its time). sqlx holds a Postgres advisory lock while it
/// migrates, so nodes booting together apply each migration exactly once.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let migrated = MIGRATOR.run(&mut *conn).await.context("migrations failed");
    sqlx::query("RESET statement_timeout")
        .execute(&mut *conn)
        .await?;
    migrated?;
    Ok(())
}

/// One migration as the database and the binary know it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Applied but not in this binary (a newer release ran here).
    pub unknown: bool,
}

/// Every migration of this binary, and any the database has that this binary lacks.
pub async fn migration_status(pool: &PgPool) -> anyhow::Result<Vec<MigrationStatus>> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    let applied: Vec<(i64, String, chrono::DateTime<chrono::Utc>)> = if table.is_some() {
        sqlx::query_as(
            "SELECT version, description, installed_on FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    let mut rows: Vec<MigrationStatus> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied_at: applied
                .iter()
                .find(|(v, _, _)| *v == m.version)
                .map(|(_, _, at)| *at),
            unknown: false,
        })
        .collect();
    for (version, description, at) in &applied {
        if !rows.iter().any(|r| r.version == *version) {
            rows.push(MigrationStatus {
                version: *version,
                description: description.clone(),
                applied_at: Some(*at),
                unknown: true,
            });
        }
    }
    rows.sort_by_key(|r| r.version);
    Ok(rows)
}

/// Reverts the latest `steps` applied migrations with their `.down.sql`. Returns the
/// versions reverted, newest first.
pub async fn revert(pool: &PgPool, steps: usize) -> anyhow::Result<Vec<i64>> {
    let status = migration_status(pool).await?;
    let applied: Vec<&MigrationStatus> = status
        .iter()
        .rev()
        .filter(|m| m.applied_at.is_some())
        .collect();
    if let Some(unknown) = applied.iter().take(steps).find(|m| m.unknown) {
        anyhow::bail!(
            "migration {} was applied by a newer release; revert it with that release",
            unknown.version
        );
    }
    let reverted: Vec<i64> = applied.iter().take(steps).map(|m| m.version).collect();
    let target = applied.get(steps).map_or(0, |m| m.version);
    MIGRATOR
        .undo(pool, target)
        .await
        .context("reverting migrations failed")?;
    Ok(reverted)
}

/// Runs `work` in a transaction of its own: committed when it succeeds, rolled back (by
/// dropping it) when it fails. For operations whose steps also run inside a caller's
/// transaction (the `_in` functions of the domain).
pub async fn in_transaction<T, E>(
    db: &PgPool,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<sqlx::Error>,
{
    let mut tx = db.begin().await?;
    let out = work(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}
