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
use crate::domain::revisions;
use crate::error::{AllValid as _, AppError, AppResult, Problem};
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
     action, resolved_by, resolution_note, resolved_at, created_at, snapshot";

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
    /// The reported article's title and body, or comment's body, when it was reported.
    pub snapshot: Option<sqlx::types::Json<Snapshot>>,
}

/// What a reported article or comment said when it was reported.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Snapshot {
    pub title: Option<String>,
    pub body: String,
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
    // What the subject says now: the moderators judge that, whatever is edited after.
    let snapshot: Option<serde_json::Value> = match subject {
        Subject::Article(id) => sqlx::query_scalar(
            "SELECT jsonb_build_object('title', title, 'body', body_markdown) FROM articles WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?,
        Subject::Comment(id) => sqlx::query_scalar(
            "SELECT jsonb_build_object('body', body_markdown) FROM comments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?,
        Subject::User(_) | Subject::Tag(_) => None,
    };
    let report = sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO reports (id, reporter_id, subject_type, subject_id, category, message, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {REPORT_COLUMNS}"
    )))
    .bind(ReportId::generate())
    .bind(viewer.user_id)
    .bind(subject.type_name())
    .bind(subject.id())
    .bind(category)
    .bind(&message)
    .bind(snapshot)
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

/// How many reports in `status` `viewer` handles (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count(db: &PgPool, viewer: &Viewer, status: ReportStatus) -> AppResult<i64> {
    let scope = report_scope(db, viewer).await?;
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(&format!(
            "FROM reports r WHERE status = $1 AND {}",
            in_scope(2)
        ))))
        .bind(status)
        .bind(scope)
        .bind(viewer.user_id)
        .fetch_one(db)
        .await?,
    )
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
    let scope = report_scope(db, viewer).await?;
    let window = page.newest_first();
    Ok(sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports r
         WHERE status = $1 AND ($2::uuid IS NULL OR id {} $2) AND ($3::uuid IS NULL OR id {} $3)
           AND {scope_sql}
         ORDER BY id {order} LIMIT $4",
        window.cmp_after,
        window.cmp_before,
        order = window.order,
        scope_sql = in_scope(5),
    )))
    .bind(status)
    .bind(window.after)
    .bind(window.before)
    .bind(page.fetch_limit())
    .bind(scope)
    .bind(viewer.user_id)
    .fetch_all(db)
    .await?)
}

/// Whether a viewer handles report `r`, parameter `$n` the tags they moderate (NULL: all
/// reports) and `$n+1` the viewer: a tag moderator handles reports on live articles in
/// their tags and on comments under them, never on what they wrote themselves.
fn in_scope(n: u8) -> String {
    let viewer = n + 1;
    format!(
        "(${n}::text[] IS NULL OR (r.subject_type IN ('article', 'comment') AND EXISTS (
            SELECT 1 FROM articles a
            WHERE a.id = CASE WHEN r.subject_type = 'article' THEN r.subject_id
                              ELSE (SELECT c.article_id FROM comments c WHERE c.id = r.subject_id) END
              AND a.status = 'published' AND a.tag_names && ${n}
              AND a.user_id <> ${viewer} AND NOT a.co_author_ids @> ARRAY[${viewer}::uuid]
              AND (r.subject_type = 'article' OR NOT EXISTS (
                    SELECT 1 FROM comments c WHERE c.id = r.subject_id AND c.user_id = ${viewer})))))"
    )
}

/// Which reports `viewer` handles: `None` for all (a moderator or admin), or those on
/// articles, and comments on articles, in the tags they moderate.
async fn report_scope(db: &PgPool, viewer: &Viewer) -> AppResult<Option<Vec<String>>> {
    if viewer.require_role(Role::Moderator).is_ok() {
        return Ok(None);
    }
    viewer.require_writer()?;
    let mut conn = db.acquire().await?;
    let tags = crate::domain::tags::moderated_by(&mut conn, viewer.user_id).await?;
    if tags.is_empty() {
        return Err(AppError::Forbidden(
            "This needs a moderator, or a tag moderator".to_owned(),
        ));
    }
    Ok(Some(tags))
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
    let scope = report_scope(db, viewer).await?;
    let note = bounded("note", note, MAX_REASON, false)?;
    let mut tx = db.begin().await?;
    let report = sqlx::query_as::<_, Report>(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports r WHERE id = $1 AND {} FOR UPDATE",
        in_scope(2)
    )))
    .bind(id)
    .bind(&scope)
    .bind(viewer.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such report".to_owned()))?;
    // A tag moderator dismisses, or hides a comment; the rest is the instance's moderators'.
    if scope.is_some()
        && !matches!(
            resolution,
            Resolution::Dismiss | Resolution::NoAction | Resolution::HideComment
        )
    {
        return Err(AppError::Forbidden(
            "A tag moderator may dismiss a report or hide a comment; ask a moderator for more"
                .to_owned(),
        ));
    }
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
            suspend_in(&mut tx, Some(viewer), member, &reason, None).await?;
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

/// The longest a timed suspension or comment ban may run; without an end it is indefinite.
pub const MAX_TERM_DAYS: i64 = 3_650;

/// An end for a suspension or a ban: in the future, within [`MAX_TERM_DAYS`].
pub fn parse_until(until: Option<DateTime<Utc>>) -> AppResult<Option<DateTime<Utc>>> {
    let Some(until) = until else {
        return Ok(None);
    };
    let now = Utc::now();
    if until <= now {
        return Err(AppError::bad_input("until", "until must be in the future"));
    }
    if until > now + chrono::Duration::days(MAX_TERM_DAYS) {
        return Err(AppError::bad_input(
            "until",
            format!("until must be within {MAX_TERM_DAYS} days; leave it out for no end"),
        ));
    }
    Ok(Some(until))
}

/// Suspends a member: they keep reading but can no longer write, and see `reason` and,
/// for a timed suspension, its end (`until`), when it lifts by itself.
/// `actor` `None`: the automatic suspension.
pub async fn suspend_in(
    conn: &mut PgConnection,
    actor: Option<&Viewer>,
    member: UserId,
    reason: &str,
    until: Option<DateTime<Utc>>,
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
        "UPDATE users SET role = 'suspended', suspended_reason = $2, suspended_at = now(),
                suspended_until = $3
         WHERE id = $1",
    )
    .bind(member)
    .bind(reason)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    if let Some(until) = until {
        crate::jobs::enqueue_at(
            &mut *conn,
            &crate::jobs::Job::LiftRestrictions { user_id: member },
            Some(until),
        )
        .await?;
    }
    audit(
        conn,
        actor.map(|a| a.user_id),
        crate::domain::audit::AuditAction::MemberSuspend,
        Subject::User(member),
        reason,
        serde_json::json!({ "role_before": role.as_str(), "until": until }),
    )
    .await
}

pub async fn suspend(
    db: &PgPool,
    viewer: &Viewer,
    member: UserId,
    reason: &str,
    until: Option<DateTime<Utc>>,
) -> AppResult<()> {
    let (reason, until) = (parse_reason(reason), parse_until(until)).all_valid()?;
    crate::db::in_transaction(db, async |tx| {
        suspend_in(tx, Some(viewer), member, &reason, until).await
    })
    .await
}

/// The job queued for the end of a timed suspension or comment ban: lifts whichever has
/// ended (a later one, set since, waits for its own job). Runs again harmlessly.
pub async fn lift_expired(db: &PgPool, member: UserId) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let lifted = sqlx::query(
        "UPDATE users SET role = 'member', suspended_reason = NULL, suspended_at = NULL,
                suspended_until = NULL
         WHERE id = $1 AND role = 'suspended' AND suspended_until <= now()",
    )
    .bind(member)
    .execute(&mut *tx)
    .await?;
    if lifted.rows_affected() > 0 {
        audit(
            &mut tx,
            None,
            crate::domain::audit::AuditAction::MemberUnsuspend,
            Subject::User(member),
            "The suspension ended",
            serde_json::json!({}),
        )
        .await?;
    }
    let unbanned = sqlx::query(
        "UPDATE users SET comment_banned_at = NULL, comment_ban_until = NULL, comment_ban_reason = NULL
         WHERE id = $1 AND comment_banned_at IS NOT NULL AND comment_ban_until <= now()",
    )
    .bind(member)
    .execute(&mut *tx)
    .await?;
    if unbanned.rows_affected() > 0 {
        audit(
            &mut tx,
            None,
            crate::domain::audit::AuditAction::CommentUnban,
            Subject::User(member),
            "The comment ban ended",
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
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
        "UPDATE users SET role = 'member', suspended_reason = NULL, suspended_at = NULL,
                suspended_until = NULL
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

/// A moderator hides, shows again or deletes a comment, with a reason kept in the audit
/// log; a moderator of one of the article's tags hides or shows it.
pub async fn moderate_comment(
    db: &PgPool,
    viewer: &Viewer,
    comment: CommentId,
    resolution: Resolution,
    reason: &str,
) -> AppResult<()> {
    // Hiding is also for the moderators of the article's tags (checked with the article).
    if resolution == Resolution::DeleteComment {
        viewer.require_role(Role::Moderator)?;
    } else {
        viewer.require_writer()?;
    }
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
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// Locks an article's discussion (no new comments, `reason` shown to readers), or opens
/// it again (`reason` then only for the log): its author, a moderator of one of its tags,
/// or a moderator.
pub async fn lock_discussion(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    lock: bool,
    reason: &str,
) -> AppResult<()> {
    viewer.require_writer()?;
    let reason = parse_reason(reason)?;
    let mut tx = db.begin().await?;
    #[derive(sqlx::FromRow)]
    struct Discussion {
        user_id: UserId,
        co_author_ids: Vec<UserId>,
        tag_names: Vec<String>,
        status: String,
        discussion_locked_at: Option<DateTime<Utc>>,
        discussion_lock_level: Option<i16>,
    }
    let found = sqlx::query_as::<_, Discussion>(
        "SELECT user_id, co_author_ids, tag_names, status, discussion_locked_at, discussion_lock_level
         FROM articles WHERE id = $1 FOR UPDATE",
    )
    .bind(article)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such article".to_owned()))?;
    let instance = viewer.require_role(Role::Moderator).is_ok();
    let is_author =
        found.user_id == viewer.user_id || found.co_author_ids.contains(&viewer.user_id);
    if found.status != "published" && !is_author && !instance {
        return Err(AppError::NotFound("No such article".to_owned()));
    }
    // Who acts, as a level: 2 the instance's moderators, 1 a moderator of one of the
    // article's tags, 0 its authors. A lock is lifted at its level or above.
    let level: i16 = if instance {
        2
    } else if crate::domain::tags::moderates(&mut tx, viewer, &found.tag_names).await? {
        1
    } else if is_author {
        0
    } else {
        return Err(AppError::Forbidden(
            "Its authors, the moderators of its tags and moderators lock a discussion".to_owned(),
        ));
    };
    if lock == found.discussion_locked_at.is_some() {
        return Err(AppError::bad_input(
            "id",
            if lock {
                "the discussion is already locked"
            } else {
                "the discussion is not locked"
            },
        ));
    }
    if !lock && found.discussion_lock_level.unwrap_or(0) > level {
        return Err(AppError::Forbidden(
            "A moderator locked this discussion; only a moderator opens it again".to_owned(),
        ));
    }
    sqlx::query(
        "UPDATE articles SET discussion_locked_at = CASE WHEN $2 THEN now() END,
                discussion_lock_reason = CASE WHEN $2 THEN $3 END,
                discussion_lock_level = CASE WHEN $2 THEN $4 END
         WHERE id = $1",
    )
    .bind(article)
    .bind(lock)
    .bind(&reason)
    .bind(level)
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        Some(viewer.user_id),
        if lock {
            AuditAction::DiscussionLock
        } else {
            AuditAction::DiscussionUnlock
        },
        Subject::Article(article),
        &reason,
        serde_json::json!({ "by_author": level == 0 }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn public_actions() -> Vec<&'static str> {
    AuditAction::PUBLIC.iter().map(|a| a.as_str()).collect()
}

/// The public moderation log, newest first: the actions of [`AuditAction::PUBLIC`] only.
/// What of each entry a reader sees is the resolver's to decide.
pub async fn modlog(db: &PgPool, page: &PageRequest<AuditEntryId>) -> AppResult<Vec<AuditEntry>> {
    let window = page.newest_first();
    Ok(sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log
         WHERE action = ANY($1)
           AND ($2::uuid IS NULL OR id {} $2) AND ($3::uuid IS NULL OR id {} $3)
         ORDER BY id {order} LIMIT $4",
        window.cmp_after,
        window.cmp_before,
        order = window.order
    )))
    .bind(public_actions())
    .bind(window.after)
    .bind(window.before)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// How many entries the public moderation log holds (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn modlog_count(db: &PgPool) -> AppResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(
        "FROM audit_log WHERE action = ANY($1)",
    )))
    .bind(public_actions())
    .fetch_one(db)
    .await?)
}

/// An author redacts a revision of their article or comment: its diff is then shown to
/// moderators and admins only; the entry stays, marked redacted.
pub async fn redact_revision(
    db: &PgPool,
    viewer: &Viewer,
    id: crate::ids::RevisionId,
) -> AppResult<(revisions::Edited, revisions::Revision)> {
    viewer.require_writer()?;
    let (edited, subject) = revisions::find(db, id)
        .await?
        .map(|(edited, r)| (edited, r.subject_id))
        .ok_or_else(|| AppError::NotFound("No such revision".to_owned()))?;
    let may = match edited {
        revisions::Edited::Article => {
            let article = crate::domain::articles::service::find(db, subject.into())
                .await?
                .filter(|a| a.visible_to(Some(viewer)))
                .ok_or_else(|| AppError::NotFound("No such revision".to_owned()))?;
            article.may_edit(Some(viewer))
        }
        revisions::Edited::Comment => comments::find(db, subject.into())
            .await?
            .is_some_and(|c| c.may_update(Some(viewer))),
    };
    if !may {
        return Err(AppError::Forbidden(
            "Only an author may redact the history of what they wrote".to_owned(),
        ));
    }
    let mut tx = db.begin().await?;
    let revision = revisions::redact(&mut tx, edited, subject, id).await?;
    tx.commit().await?;
    Ok((edited, revision))
}
