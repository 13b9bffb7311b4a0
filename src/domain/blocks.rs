//! Blocking: a member stops seeing another's articles in feeds, hearing from them in
//! notifications, and receiving their live events.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::accounts::Viewer;
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;

/// Blocks or unblocks; idempotent. Returns whether the viewer now blocks `target`.
pub async fn set(db: &PgPool, viewer: &Viewer, target: UserId, block: bool) -> AppResult<bool> {
    if target == viewer.user_id {
        return Err(AppError::bad_input("id", "you cannot block yourself"));
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)",
    )
    .bind(target)
    .fetch_one(db)
    .await?;
    if !exists {
        return Err(AppError::NotFound("No such member".to_owned()));
    }
    if block {
        sqlx::query("INSERT INTO user_blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
    } else {
        sqlx::query("DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2")
    }
    .bind(viewer.user_id)
    .bind(target)
    .execute(db)
    .await?;
    Ok(block)
}

/// Where a block sits in its member's list: newest first.
pub type BlockKey = (DateTime<Utc>, Uuid);

/// The members `$1` blocked, whose accounts still exist.
const BLOCKED: &str =
    "FROM user_blocks b JOIN users x ON x.id = b.blocked_id AND x.deleted_at IS NULL
     WHERE b.blocker_id = $1";

/// A page of the members `user` blocked, each with the block's time, newest first.
pub async fn blocked_page(
    db: &PgPool,
    user: UserId,
    page: &PageRequest<BlockKey>,
) -> AppResult<Vec<(Uuid, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT x.id, b.created_at {BLOCKED} AND {page}",
        page = page.newest_sql("b.created_at", "x.id", 2)
    );
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// How many members `user` blocked (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn blocked_count(db: &PgPool, user: UserId) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(BLOCKED)))
            .bind(user)
            .fetch_one(db)
            .await?,
    )
}

/// For each of `others`: whether `viewer` blocked them, and whether they blocked `viewer`.
pub async fn between(
    db: &PgPool,
    viewer: UserId,
    others: &[UserId],
) -> AppResult<Vec<(UserId, bool, bool)>> {
    Ok(sqlx::query_as(
        "SELECT o.id,
                EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = $1 AND blocked_id = o.id),
                EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = o.id AND blocked_id = $1)
         FROM unnest($2::uuid[]) o(id)",
    )
    .bind(viewer)
    .bind(others)
    .fetch_all(db)
    .await?)
}

/// Everyone `user` has blocked.
pub async fn blocked_by(db: &PgPool, user: UserId) -> AppResult<Vec<UserId>> {
    Ok(
        sqlx::query_scalar("SELECT blocked_id FROM user_blocks WHERE blocker_id = $1")
            .bind(user)
            .fetch_all(db)
            .await?,
    )
}

/// Whether `blocker` has blocked `blocked`.
pub async fn is_blocked<'e>(
    db: impl sqlx::PgExecutor<'e>,
    blocker: UserId,
    blocked: UserId,
) -> AppResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2)",
    )
    .bind(blocker)
    .bind(blocked)
    .fetch_one(db)
    .await?)
}
