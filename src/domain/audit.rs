//! The audit log: who did what to which subject, and why. Written by every area in the
//! transaction of the action it records; read by admins through `moderation`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ArticleId, AuditEntryId, CommentId, TagId, UserId};

pub const MAX_REASON: usize = 500;

/// A reason for the log: required, trimmed, at most [`MAX_REASON`] characters.
pub fn parse_reason(raw: &str) -> AppResult<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AppError::invalid(
            "reason",
            Problem::Blank,
            "reason is required",
        ));
    }
    if text.chars().count() > MAX_REASON {
        return Err(AppError::invalid(
            "reason",
            Problem::TooLong,
            format!("reason must be at most {MAX_REASON} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// What a report or an audit row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Article(ArticleId),
    Comment(CommentId),
    User(UserId),
    /// Audited only: tags cannot be reported.
    Tag(TagId),
}

/// The kind of a [`Subject`], as stored beside its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectType {
    Article,
    Comment,
    User,
    Tag,
}

crate::text_enum!(SubjectType {
    Article = "article",
    Comment = "comment",
    User = "user",
    Tag = "tag",
});

impl Subject {
    pub fn subject_type(self) -> SubjectType {
        match self {
            Self::Article(_) => SubjectType::Article,
            Self::Comment(_) => SubjectType::Comment,
            Self::User(_) => SubjectType::User,
            Self::Tag(_) => SubjectType::Tag,
        }
    }

    pub fn type_name(self) -> &'static str {
        self.subject_type().as_str()
    }

    pub fn id(self) -> Uuid {
        match self {
            Self::Article(id) => id.uuid(),
            Self::Comment(id) => id.uuid(),
            Self::User(id) => id.uuid(),
            Self::Tag(id) => id.uuid(),
        }
    }

    pub fn from_parts(subject_type: SubjectType, id: Uuid) -> Self {
        match subject_type {
            SubjectType::Article => Self::Article(id.into()),
            SubjectType::Comment => Self::Comment(id.into()),
            SubjectType::User => Self::User(id.into()),
            SubjectType::Tag => Self::Tag(id.into()),
        }
    }
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    ArticleUnpublish,
    ArticleRestore,
    ArticleRetag,
    CommentHide,
    CommentUnhide,
    CommentDelete,
    MemberSuspend,
    MemberUnsuspend,
    MemberRole,
    SpamFlag,
    TagUpdate,
    ReportResolved,
    ReportDismissed,
    MemberWarn,
    CommentBan,
    CommentUnban,
    DiscussionLock,
    DiscussionUnlock,
    TagModeratorAdd,
    TagModeratorRemove,
}

crate::text_enum!(AuditAction {
    ArticleUnpublish = "article.unpublish",
    ArticleRestore = "article.restore",
    ArticleRetag = "article.retag",
    CommentHide = "comment.hide",
    CommentUnhide = "comment.unhide",
    CommentDelete = "comment.delete",
    MemberSuspend = "member.suspend",
    MemberUnsuspend = "member.unsuspend",
    MemberRole = "member.role",
    SpamFlag = "spam.flag",
    TagUpdate = "tag.update",
    ReportResolved = "report.resolved",
    ReportDismissed = "report.dismissed",
    MemberWarn = "member.warn",
    CommentBan = "member.comment_ban",
    CommentUnban = "member.comment_unban",
    DiscussionLock = "article.lock",
    DiscussionUnlock = "article.unlock",
    TagModeratorAdd = "tag.moderator_add",
    TagModeratorRemove = "tag.moderator_remove",
});

impl AuditAction {
    /// The actions the public moderation log shows. Warnings, report outcomes (which
    /// would tell who reported what), spam flags and role changes stay private.
    pub const PUBLIC: &[AuditAction] = &[
        AuditAction::ArticleUnpublish,
        AuditAction::ArticleRestore,
        AuditAction::ArticleRetag,
        AuditAction::CommentHide,
        AuditAction::CommentUnhide,
        AuditAction::CommentDelete,
        AuditAction::MemberSuspend,
        AuditAction::MemberUnsuspend,
        AuditAction::CommentBan,
        AuditAction::CommentUnban,
        AuditAction::DiscussionLock,
        AuditAction::DiscussionUnlock,
        AuditAction::TagUpdate,
        AuditAction::TagModeratorAdd,
        AuditAction::TagModeratorRemove,
    ];
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub actor_id: Option<UserId>,
    pub action: AuditAction,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    pub reason: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Writes one audit row. `actor` `None`: done by the system.
pub async fn audit(
    conn: &mut PgConnection,
    actor: Option<UserId>,
    action: AuditAction,
    subject: Subject,
    reason: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, actor_id, action, subject_type, subject_id, reason, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(AuditEntryId::generate())
    .bind(actor)
    .bind(action)
    .bind(subject.subject_type())
    .bind(subject.id())
    .bind(reason)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}
