//! Reports, moderator actions and reading the audit log, automatic suspension. Every
//! moderator action writes its audit row (`audit`) in the transaction of the action. Sits
//! above articles and comments, whose moderator-only paths it calls.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::articles::service::unpublish_in;
pub use crate::domain::audit::{
    AuditAction, AuditEntry, MAX_REASON, Subject, SubjectType, audit, parse_reason,
};
use crate::domain::comments;
use crate::domain::outbox::{self, WebhookEvent};
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ArticleId, AuditEntryId, CommentId, ReportId, UserId};

pub const MAX_MESSAGE: usize = 1_000;

/// Why a member reported something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportCategory {
    Spam,
    Harassment,
    Rude,
    Illegal,
    Plagiarism,
    Other,
}

crate::text_enum!(ReportCategory {
    Spam = "spam",
    Harassment = "harassment",
    Rude = "rude",
    Illegal = "illegal",
    Plagiarism = "plagiarism",
    Other = "other",
});

/// What resolving a report does to its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing was wrong.
    Dismiss,
    /// Acted on some other way (or already handled).
    NoAction,
    UnpublishArticle,
    HideComment,
    DeleteComment,
    SuspendMember,
}

crate::text_enum!(Resolution {
    Dismiss = "dismiss",
    NoAction = "no_action",
    UnpublishArticle = "unpublish_article",
    HideComment = "hide_comment",
    DeleteComment = "delete_comment",
    SuspendMember = "suspend_member",
});

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Waiting for a moderator.
    Open,
    /// Acted on (or judged to need no action).
    Resolved,
    /// Judged unfounded.
    Dismissed,
}

crate::text_enum!(ReportStatus {
    Open = "open",
    Resolved = "resolved",
    Dismissed = "dismissed",
});

pub const REPORT_COLUMNS: &str = "id, reporter_id, subject_type, subject_id, category, message, status, \
     action, resolved_by, resolution_note, resolved_at, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Report {
    pub id: ReportId,
    pub reporter_id: Option<UserId>,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    pub category: ReportCategory,
    pub message: String,
    pub status: ReportStatus,
    pub action: Option<Resolution>,
    pub resolved_by: Option<UserId>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn bounded(field: &str, raw: &str, max: usize, required: bool) -> AppResult<String> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(AppError::invalid(
            field,
            Problem::Blank,
            format!("{field} is required"),
        ));
    }
    if text.chars().count() > max {
        return Err(AppError::invalid(
            field,
            Problem::TooLong,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The author of a subject, if it exists and is visible to members.
async fn subject_owner(conn: &mut PgConnection, subject: Subject) -> AppResult<Option<UserId>> {
    let sql = match subject {
        Subject::Article(_) => {
            "SELECT user_id FROM articles WHERE id = $1 AND status = 'published'"
        }
        Subject::Comment(_) => {
            "SELECT c.user_id FROM comments c JOIN articles a ON a.id = c.article_id
             WHERE c.id = $1 AND c.deleted_at IS NULL AND a.status = 'published'"
        }
        Subject::User(_) => "SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL",
        Subject::Tag(_) => return Ok(None),
    };
    Ok(sqlx::query_scalar(sql)
        .bind(subject.id())
        .fetch_optional(conn)
        .await?)
}

/// A member reports an article, a comment or a member.
pub async fn report(
    db: &PgPool,
    viewer: &Viewer,
    subject: Subject,
    category: ReportCategory,
    message: &str,
) -> AppResult<Report> {
    viewer.require_writer()?;
    let message = bounded("message", message, MAX_MESSAGE, false)?;
    let mut tx = db.begin().await?;
    let owner = subject_owner(&mut tx, subject)
        .await?
        .ok_or_else(|| AppError::NotFound("Nothing to report".to_owned()))?;
    if owner == viewer.user_id {
        return Err(AppError::bad_input(
            "subjectId",
            "you cannot report yourself",
        ));
    }
    let report = sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO reports (id, reporter_id, subject_type, subject_id, category, message)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {REPORT_COLUMNS}"
    )))
    .bind(ReportId::generate())
    .bind(viewer.user_id)
    .bind(subject.type_name())
    .bind(subject.id())
    .bind(category)
    .bind(&message)
    .fetch_one(&mut *tx)
    .await?;
    outbox::record(
        &mut tx,
        WebhookEvent::ReportCreated,
        (outbox::Subject::Report, report.id.into()),
        &[],
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// How many reports are in `status` (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)); the caller has checked
/// that the viewer moderates.
pub async fn count(db: &PgPool, status: ReportStatus) -> AppResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(
        "FROM reports WHERE status = $1",
    )))
    .bind(status)
    .fetch_one(db)
    .await?)
}

/// How many audit entries there are, of `action` only when given (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP)); the caller has checked that the viewer is an admin.
pub async fn audit_count(db: &PgPool, action: Option<AuditAction>) -> AppResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(
        "FROM audit_log WHERE ($1::text IS NULL OR action = $1)",
    )))
    .bind(action)
    .fetch_one(db)
    .await?)
}

/// Reports in a status, newest first: ids are UUIDv7, time-ordered, so the id alone is
/// both the order and the cursor.
pub async fn list(
    db: &PgPool,
    viewer: &Viewer,
    status: ReportStatus,
    page: &PageRequest<ReportId>,
) -> AppResult<Vec<Report>> {
    viewer.require_role(Role::Moderator)?;
    let window = page.newest_first();
    Ok(sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports
         WHERE status = $1 AND ($2::uuid IS NULL OR id {} $2) AND ($3::uuid IS NULL OR id {} $3)
         ORDER BY id {order} LIMIT $4",
        window.cmp_after,
        window.cmp_before,
        order = window.order
    )))
    .bind(status)
    .bind(window.after)
    .bind(window.before)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

pub async fn find_reports(db: &PgPool, ids: &[ReportId]) -> AppResult<Vec<Report>> {
    Ok(sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Resolves a report (and every other open report on the same subject) with an action
/// on its subject, in one transaction with the action and its audit rows.
pub async fn resolve(
    db: &PgPool,
    viewer: &Viewer,
    id: ReportId,
    resolution: Resolution,
    note: &str,
) -> AppResult<Report> {
    viewer.require_role(Role::Moderator)?;
    let note = bounded("note", note, MAX_REASON, false)?;
    let mut tx = db.begin().await?;
    let report = sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such report".to_owned()))?;
    if report.status != ReportStatus::Open {
        return Err(AppError::bad_input("id", "this report is already resolved"));
    }
    let subject = Subject::from_parts(report.subject_type, report.subject_id);
    let reason = if note.is_empty() {
        format!("report: {}", report.category)
    } else {
        note.clone()
    };
    match (resolution, subject) {
        (Resolution::Dismiss | Resolution::NoAction, _) => {}
        (Resolution::UnpublishArticle, Subject::Article(article)) => {
            unpublish_in(&mut tx, viewer, article, &reason).await?;
        }
        (Resolution::HideComment, Subject::Comment(comment)) => {
            comments::set_hidden_in(&mut tx, viewer, comment, true, Some(&reason)).await?;
        }
        (Resolution::DeleteComment, Subject::Comment(comment)) => {
            comments::delete_in(&mut tx, viewer, comment, Some(&reason)).await?;
        }
        (Resolution::SuspendMember, subject) => {
            let member = match subject {
                Subject::User(id) => id,
                other => subject_author(&mut tx, other).await?,
            };
            suspend_in(&mut tx, Some(viewer), member, &reason).await?;
        }
        (action, subject) => {
            return Err(AppError::bad_input(
                "action",
                format!(
                    "{} does not apply to a reported {}",
                    action.as_str(),
                    subject.type_name()
                ),
            ));
        }
    }
    let status = if resolution == Resolution::Dismiss {
        ReportStatus::Dismissed
    } else {
        ReportStatus::Resolved
    };
    sqlx::query(
        "UPDATE reports SET status = $3, action = $4, resolved_by = $5, resolution_note = $6, resolved_at = now()
         WHERE subject_type = $1 AND subject_id = $2 AND status = 'open'",
    )
    .bind(subject.subject_type())
    .bind(subject.id())
    .bind(status)
    .bind(resolution.as_str())
    .bind(viewer.user_id)
    .bind(&note)
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        Some(viewer.user_id),
        if status == ReportStatus::Dismissed {
            crate::domain::audit::AuditAction::ReportDismissed
        } else {
            crate::domain::audit::AuditAction::ReportResolved
        },
        subject,
        &note,
        serde_json::json!({ "report": report.id, "action": resolution.as_str() }),
    )
    .await?;
    let report = sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(report)
}

async fn subject_author(conn: &mut PgConnection, subject: Subject) -> AppResult<UserId> {
    let sql = match subject {
        Subject::Article(_) => "SELECT user_id FROM articles WHERE id = $1",
        Subject::Comment(_) => "SELECT user_id FROM comments WHERE id = $1",
        Subject::User(_) => "SELECT id FROM users WHERE id = $1",
        Subject::Tag(_) => return Err(AppError::NotFound("Tags have no author".to_owned())),
    };
    sqlx::query_scalar(sql)
        .bind(subject.id())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::NotFound("The reported item is gone".to_owned()))
}

/// A moderator undoes a takedown: the article is its author's draft again.
pub async fn restore_article(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    reason: &str,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    crate::domain::articles::service::restore(&mut tx, article).await?;
    audit(
        &mut tx,
        Some(viewer.user_id),
        crate::domain::audit::AuditAction::ArticleRestore,
        Subject::Article(article),
        &reason,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Suspends a member: they keep reading but can no longer write, and see `reason`.
/// `actor` `None`: the automatic suspension.
pub async fn suspend_in(
    conn: &mut PgConnection,
    actor: Option<&Viewer>,
    member: UserId,
    reason: &str,
) -> AppResult<()> {
    let role: Role = sqlx::query_scalar(
        "SELECT role FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(member)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such member".to_owned()))?;
    if let Some(actor) = actor {
        actor.require_role(Role::Moderator)?;
        if actor.user_id == member {
            return Err(AppError::bad_input("id", "you cannot suspend yourself"));
        }
        // Moderators act on members; only admins on moderators and admins.
        if role >= Role::Moderator && actor.role < Role::Admin {
            return Err(AppError::Forbidden(
                "Only an admin can suspend a moderator or an admin".to_owned(),
            ));
        }
    } else if role >= Role::Moderator {
        return Ok(());
    }
    sqlx::query(
        "UPDATE users SET role = 'suspended', suspended_reason = $2, suspended_at = now() WHERE id = $1",
    )
    .bind(member)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    audit(
        conn,
        actor.map(|a| a.user_id),
        crate::domain::audit::AuditAction::MemberSuspend,
        Subject::User(member),
        reason,
        serde_json::json!({ "role_before": role.as_str() }),
    )
    .await
}

pub async fn suspend(db: &PgPool, viewer: &Viewer, member: UserId, reason: &str) -> AppResult<()> {
    let reason = parse_reason(reason)?;
    crate::db::in_transaction(db, async |tx| {
        suspend_in(tx, Some(viewer), member, &reason).await
    })
    .await
}

/// Lifts a suspension; the member is a plain member again.
pub async fn unsuspend(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    reason: &str,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE users SET role = 'member', suspended_reason = NULL, suspended_at = NULL
         WHERE id = $1 AND role = 'suspended' AND deleted_at IS NULL",
    )
    .bind(member)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::bad_input("id", "this member is not suspended"));
    }
    audit(
        &mut tx,
        Some(viewer.user_id),
        crate::domain::audit::AuditAction::MemberUnsuspend,
        Subject::User(member),
        &reason,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A moderator takes an article down, with a reason.
pub async fn unpublish(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    reason: &str,
) -> AppResult<()> {
    let reason = parse_reason(reason)?;
    crate::db::in_transaction(db, async |tx| {
        unpublish_in(tx, viewer, article, &reason).await
    })
    .await
}

/// A moderator hides, shows again or deletes a comment, with a reason kept in the audit log.
pub async fn moderate_comment(
    db: &PgPool,
    viewer: &Viewer,
    comment: CommentId,
    resolution: Resolution,
    reason: &str,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    match resolution {
        Resolution::DeleteComment => {
            comments::delete_in(&mut tx, viewer, comment, Some(&reason)).await?;
        }
        other => {
            let hide = other == Resolution::HideComment;
            comments::set_hidden_in(&mut tx, viewer, comment, hide, Some(&reason)).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

const AUDIT_COLUMNS: &str =
    "id, actor_id, action, subject_type, subject_id, reason, details, created_at";

/// Audit entries by id (the caller checks that the viewer is an admin).
pub async fn find_audit_entries(db: &PgPool, ids: &[AuditEntryId]) -> AppResult<Vec<AuditEntry>> {
    Ok(sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// The audit log, newest first: admins only.
pub async fn audit_log(
    db: &PgPool,
    viewer: &Viewer,
    action: Option<AuditAction>,
    page: &PageRequest<AuditEntryId>,
) -> AppResult<Vec<AuditEntry>> {
    viewer.require_role(Role::Admin)?;
    let window = page.newest_first();
    Ok(sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log
         WHERE ($1::text IS NULL OR action = $1)
           AND ($2::uuid IS NULL OR id {} $2) AND ($3::uuid IS NULL OR id {} $3)
         ORDER BY id {order} LIMIT $4",
        window.cmp_after,
        window.cmp_before,
        order = window.order
    )))
    .bind(action)
    .bind(window.after)
    .bind(window.before)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// After a `vomit` on one of `author`'s articles: more than the configured number from
/// trusted members (moderators and admins included) suspends the author, as in Forem.
pub async fn check_vomits(
    conn: &mut PgConnection,
    settings: &Settings,
    author: UserId,
) -> AppResult<()> {
    let vomits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reactions r
         JOIN articles a ON r.reactable_type = 'article' AND a.id = r.reactable_id
         JOIN users u ON u.id = r.user_id
         WHERE a.user_id = $1 AND r.category = 'vomit' AND u.role IN ('trusted', 'moderator', 'admin')",
    )
    .bind(author)
    .fetch_one(&mut *conn)
    .await?;
    if vomits > settings.moderation.vomits_before_suspension {
        let role: Option<Role> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(author)
            .fetch_optional(&mut *conn)
            .await?;
        if role.is_some_and(|r| matches!(r, Role::Member | Role::Trusted)) {
            suspend_in(
                conn,
                None,
                author,
                "Your articles were flagged as abusive by several trusted members",
            )
            .await?;
        }
    }
    Ok(())
}
