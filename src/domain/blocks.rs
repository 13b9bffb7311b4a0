//! Blocking: a member stops seeing another's articles in feeds, hearing from them in
//! notifications, and receiving their live events.

use sqlx::PgPool;

use crate::domain::accounts::Viewer;
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
