//! A member's standing with the moderators: warnings, comment-only bans (timed or not),
//! and the moderators' private notes on a member. Suspensions are `moderation`'s; a
//! member sees their own standing, moderators everyone's.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::accounts::model::bounded_text;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::audit::{AuditAction, Subject, audit, parse_reason};
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{ModeratorNoteId, UserId, WarningId};

pub const MAX_NOTE: usize = 2_000;
/// The most warnings and notes one read returns, newest first.
pub const MAX_LISTED: i64 = 100;

/// Where a member stands: what they may not do now, and why.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Standing {
    pub user_id: UserId,
    pub suspended: bool,
    pub suspended_reason: Option<String>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspended_until: Option<DateTime<Utc>>,
    /// Banned from commenting now (a ban whose end has passed no longer counts).
    pub comment_banned: bool,
    pub comment_ban_reason: Option<String>,
    pub comment_ban_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Warning {
    pub id: WarningId,
    pub user_id: UserId,
    pub moderator_id: Option<UserId>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModeratorNote {
    pub id: ModeratorNoteId,
    pub user_id: UserId,
    pub author_id: Option<UserId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A member's own standing, or anyone's for a moderator.
pub async fn standing(db: &PgPool, viewer: &Viewer, member: UserId) -> AppResult<Standing> {
    if viewer.user_id != member {
        viewer.require_role(Role::Moderator)?;
    }
    sqlx::query_as::<_, Standing>(
        "SELECT id AS user_id, role = 'suspended' AS suspended, suspended_reason, suspended_at,
                suspended_until,
                comment_banned_at IS NOT NULL AND (comment_ban_until IS NULL OR comment_ban_until > now()) AS comment_banned,
                comment_ban_reason, comment_ban_until
         FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(member)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::NotFound("No such member".to_owned()))
}

/// The warnings a member received, newest first: theirs to read, and the moderators'.
pub async fn warnings(db: &PgPool, viewer: &Viewer, member: UserId) -> AppResult<Vec<Warning>> {
    if viewer.user_id != member {
        viewer.require_role(Role::Moderator)?;
    }
    Ok(sqlx::query_as::<_, Warning>(
        "SELECT id, user_id, moderator_id, reason, created_at FROM member_warnings
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(member)
    .bind(MAX_LISTED)
    .fetch_all(db)
    .await?)
}

/// The moderators' notes on a member, newest first: moderators and admins only.
pub async fn notes(db: &PgPool, viewer: &Viewer, member: UserId) -> AppResult<Vec<ModeratorNote>> {
    viewer.require_role(Role::Moderator)?;
    Ok(sqlx::query_as::<_, ModeratorNote>(
        "SELECT id, user_id, author_id, body, created_at FROM moderator_notes
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(member)
    .bind(MAX_LISTED)
    .fetch_all(db)
    .await?)
}

/// Locks `member`'s row, NOT_FOUND when there is no such member; FORBIDDEN when `viewer`
/// may not act on them (themselves, or a moderator or admin unless `viewer` is an admin).
async fn target(conn: &mut sqlx::PgConnection, viewer: &Viewer, member: UserId) -> AppResult<()> {
    let role: Role = sqlx::query_scalar(
        "SELECT role FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(member)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such member".to_owned()))?;
    if viewer.user_id == member {
        return Err(AppError::bad_input("id", "you cannot act on yourself"));
    }
    if role >= Role::Moderator && viewer.role < Role::Admin {
        return Err(AppError::Forbidden(
            "Only an admin can act on a moderator or an admin".to_owned(),
        ));
    }
    Ok(())
}

/// A moderator warns a member, who sees the warning and its reason; kept private.
pub async fn warn(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    reason: &str,
) -> AppResult<Warning> {
    viewer.require_role(Role::Moderator)?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    target(&mut tx, viewer, member).await?;
    let warning = sqlx::query_as::<_, Warning>(
        "INSERT INTO member_warnings (id, user_id, moderator_id, reason) VALUES ($1, $2, $3, $4)
         RETURNING id, user_id, moderator_id, reason, created_at",
    )
    .bind(WarningId::generate())
    .bind(member)
    .bind(viewer.user_id)
    .bind(&reason)
    .fetch_one(&mut *tx)
    .await?;
    audit(
        &mut tx,
        Some(viewer.user_id),
        AuditAction::MemberWarn,
        Subject::User(member),
        &reason,
        serde_json::json!({ "warning": warning.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(warning)
}

/// A moderator bans a member from commenting (they still write articles and react),
/// until `until` or, without it, until lifted.
pub async fn ban_comments(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    reason: &str,
    until: Option<DateTime<Utc>>,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let (reason, until) = (
        parse_reason(reason),
        crate::domain::moderation::parse_until(until),
    )
        .all_valid()?;
    let mut tx = db.begin().await?;
    target(&mut tx, viewer, member).await?;
    sqlx::query(
        "UPDATE users SET comment_banned_at = now(), comment_ban_until = $2, comment_ban_reason = $3
         WHERE id = $1",
    )
    .bind(member)
    .bind(until)
    .bind(&reason)
    .execute(&mut *tx)
    .await?;
    if let Some(until) = until {
        crate::jobs::enqueue_at(
            &mut tx,
            &crate::jobs::Job::LiftRestrictions { user_id: member },
            Some(until),
        )
        .await?;
    }
    audit(
        &mut tx,
        Some(viewer.user_id),
        AuditAction::CommentBan,
        Subject::User(member),
        &reason,
        serde_json::json!({ "until": until }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A moderator lifts a comment ban before its end.
pub async fn lift_comment_ban(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    reason: &str,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    let lifted = sqlx::query(
        "UPDATE users SET comment_banned_at = NULL, comment_ban_until = NULL, comment_ban_reason = NULL
         WHERE id = $1 AND deleted_at IS NULL AND comment_banned_at IS NOT NULL
           AND (comment_ban_until IS NULL OR comment_ban_until > now())",
    )
    .bind(member)
    .execute(&mut *tx)
    .await?;
    if lifted.rows_affected() == 0 {
        return Err(AppError::bad_input(
            "id",
            "this member is not banned from commenting",
        ));
    }
    audit(
        &mut tx,
        Some(viewer.user_id),
        AuditAction::CommentUnban,
        Subject::User(member),
        &reason,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A moderator writes a note on a member for the other moderators.
pub async fn add_note(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    body: &str,
) -> AppResult<ModeratorNote> {
    viewer.require_role(Role::Moderator)?;
    let body = bounded_text("body", body, MAX_NOTE)?;
    if body.is_empty() {
        return Err(AppError::invalid(
            "body",
            Problem::Blank,
            "body is required",
        ));
    }
    sqlx::query_as::<_, ModeratorNote>(
        "INSERT INTO moderator_notes (id, user_id, author_id, body)
         SELECT $1, id, $3, $4 FROM users WHERE id = $2 AND deleted_at IS NULL
         RETURNING id, user_id, author_id, body, created_at",
    )
    .bind(ModeratorNoteId::generate())
    .bind(member)
    .bind(viewer.user_id)
    .bind(&body)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::NotFound("No such member".to_owned()))
}
