//! The queue's SQL: enqueue, claim, renew, finish, and the operator views.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Job, JobRecord, KindStats};

/// Enqueues `job` to run now, inside the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, job: &Job) -> sqlx::Result<Uuid> {
    enqueue_at(conn, job, None).await
}

/// Enqueues `job` to run at `run_at` (now when `None`), inside the caller's transaction.
pub async fn enqueue_at(
    conn: &mut PgConnection,
    job: &Job,
    run_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at) VALUES ($1, $2, $3, COALESCE($4, now()))",
    )
    .bind(id)
    .bind(job.kind())
    .bind(payload)
    .bind(run_at)
    .execute(conn)
    .await?;
    Ok(id)
}

/// A job this worker holds the lease of.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

fn interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Claims the next due job of one of `kinds`: queued and due, or running with an expired
/// lease (its worker died).
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    kinds: &[&str],
    lease: Duration,
) -> sqlx::Result<Option<Claimed>> {
    sqlx::query_as::<_, Claimed>(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,
                locked_until = now() + make_interval(secs => $3)
         WHERE id = (
             SELECT id FROM jobs
             WHERE kind = ANY($2)
               AND ((status = 'queued' AND run_at <= now())
                 OR (status = 'running' AND locked_until < now()))
             ORDER BY run_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(worker)
    .bind(kinds)
    .bind(interval(lease))
    .fetch_optional(pool)
    .await
}

/// The lease a worker holds on a job: the job, the worker, and the attempt it claimed.
/// Every write about the job names all three, so a worker whose lease ran out (and whose
/// job another claim took, even by the same worker) changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub id: Uuid,
    pub worker: &'a str,
    pub attempt: i32,
}

/// Renews the lease while the handler runs. False when the lease was lost.
pub async fn renew(pool: &PgPool, lease: Lease<'_>, length: Duration) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND locked_by = $2 AND attempts = $4 AND status = 'running'",
    )
    .bind(lease.id)
    .bind(lease.worker)
    .bind(interval(length))
    .bind(lease.attempt)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The job succeeded: it is removed. False when the lease had been lost.
pub async fn complete(pool: &PgPool, lease: Lease<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind(lease.id)
    .bind(lease.worker)
    .bind(lease.attempt)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The job failed and will run again at `retry_at`.
pub async fn retry_later(
    pool: &PgPool,
    lease: Lease<'_>,
    error: &str,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = $3, last_error = $4,
                locked_by = NULL, locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND attempts = $5 AND status = 'running'",
    )
    .bind(lease.id)
    .bind(lease.worker)
    .bind(retry_at)
    .bind(error)
    .bind(lease.attempt)
    .execute(pool)
    .await?;
    Ok(())
}

/// The job failed for good: kept as dead with the reason.
pub async fn bury(pool: &PgPool, lease: Lease<'_>, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'dead', last_error = $3, locked_by = NULL, locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND attempts = $4 AND status = 'running'",
    )
    .bind(lease.id)
    .bind(lease.worker)
    .bind(error)
    .bind(lease.attempt)
    .execute(pool)
    .await?;
    Ok(())
}

/// Hands back the jobs a stopping worker still holds, as if they had not started.
pub async fn release_all(pool: &PgPool, worker: &str) -> sqlx::Result<u64> {
    let released = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0),
                locked_by = NULL, locked_until = NULL
         WHERE locked_by = $1 AND status = 'running'",
    )
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Counts per kind, as Sidekiq's dashboard showed them.
pub async fn stats(pool: &PgPool) -> sqlx::Result<Vec<KindStats>> {
    sqlx::query_as::<_, KindStats>(
        "SELECT kind,
                count(*) FILTER (WHERE status = 'queued' AND run_at <= now() AND attempts = 0) AS queued,
                count(*) FILTER (WHERE status = 'running') AS running,
                count(*) FILTER (WHERE status = 'queued' AND run_at > now() AND attempts = 0) AS scheduled,
                count(*) FILTER (WHERE status = 'queued' AND attempts > 0) AS failed,
                count(*) FILTER (WHERE status = 'dead') AS dead
         FROM jobs GROUP BY kind ORDER BY kind",
    )
    .fetch_all(pool)
    .await
}

pub async fn dead(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<JobRecord>> {
    sqlx::query_as::<_, JobRecord>(
        "SELECT id, kind, status, attempts, run_at, last_error FROM jobs
         WHERE status = 'dead' ORDER BY updated_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Queues a dead or failed job again, now, with a fresh count of attempts.
pub async fn retry(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(),
                locked_by = NULL, locked_until = NULL
         WHERE id = $1 AND status IN ('dead', 'queued')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Queues every dead job again.
pub async fn retry_dead(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = now() WHERE status = 'dead'",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Advances a periodic schedule to `slot` and enqueues its job, unless another worker
/// already did. Returns whether this call enqueued.
pub async fn fire_schedule(
    pool: &PgPool,
    name: &str,
    slot: DateTime<Utc>,
    job: &Job,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let advanced = sqlx::query(
        "INSERT INTO job_schedules (name, last_run_at) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
         WHERE job_schedules.last_run_at < EXCLUDED.last_run_at",
    )
    .bind(name)
    .bind(slot)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if advanced {
        enqueue(&mut tx, job).await?;
    }
    tx.commit().await?;
    Ok(advanced)
}

/// Starts a schedule's clock at `now` without firing it.
pub async fn init_schedule(pool: &PgPool, name: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO job_schedules (name, last_run_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// When a schedule last fired.
pub async fn schedule_last_run(pool: &PgPool, name: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT last_run_at FROM job_schedules WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Deletes dead jobs (older than `days` days when given). Returns how many.
pub async fn purge_dead(pool: &PgPool, days: Option<i64>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE status = 'dead'
           AND ($1::bigint IS NULL OR updated_at < now() - make_interval(days => $1::int))",
    )
    .bind(days)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
