//! What the outside hears of. Each event is recorded in the transaction of the write that
//! causes it, as a job that hands it to the webhooks that want it (see `webhooks`): if the
//! write rolls back, nobody hears of it; if it commits, the event cannot be lost. Nothing
//! is recorded when no active webhook could want the event.

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::UserId;
use crate::jobs::Job;

/// Something that happened, as webhooks name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    ArticlePublished,
    ArticleUpdated,
    ArticleUnpublished,
    CommentCreated,
    CommentUpdated,
    CommentDeleted,
    ReactionCreated,
    FollowerGained,
    ReportCreated,
    MemberJoined,
    /// Sent on request, to check a receiver.
    Ping,
}

crate::text_enum!(WebhookEvent {
    ArticlePublished = "ARTICLE_PUBLISHED",
    ArticleUpdated = "ARTICLE_UPDATED",
    ArticleUnpublished = "ARTICLE_UNPUBLISHED",
    CommentCreated = "COMMENT_CREATED",
    CommentUpdated = "COMMENT_UPDATED",
    CommentDeleted = "COMMENT_DELETED",
    ReactionCreated = "REACTION_CREATED",
    FollowerGained = "FOLLOWER_GAINED",
    ReportCreated = "REPORT_CREATED",
    MemberJoined = "MEMBER_JOINED",
    Ping = "PING",
});

impl WebhookEvent {
    /// Events about the whole instance, which only admins' instance webhooks receive.
    pub fn instance_only(self) -> bool {
        matches!(self, Self::ReportCreated | Self::MemberJoined)
    }

    /// The types the event's subject can have (a reaction is on an article or a comment).
    pub fn subject_types(self) -> &'static [Subject] {
        match self {
            Self::ArticlePublished | Self::ArticleUpdated | Self::ArticleUnpublished => {
                &[Subject::Article]
            }
            Self::CommentCreated | Self::CommentUpdated | Self::CommentDeleted => {
                &[Subject::Comment]
            }
            Self::ReactionCreated => &[Subject::Article, Subject::Comment],
            Self::FollowerGained | Self::MemberJoined | Self::Ping => &[Subject::User],
            Self::ReportCreated => &[Subject::Report],
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Article,
    Comment,
    User,
    Report,
}

crate::text_enum!(Subject {
    Article = "Article",
    Comment = "Comment",
    User = "User",
    Report = "Report",
});

/// Records `event` about `subject` inside the caller's transaction, for the instance's
/// webhooks and those of `owners` (the members whose content or account it concerns).
pub async fn record(
    conn: &mut PgConnection,
    event: WebhookEvent,
    subject: (Subject, Uuid),
    owners: &[UserId],
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    let job = Job::DispatchWebhooks {
        event_id: Uuid::now_v7(),
        event: event.as_str().to_owned(),
        subject_type: subject.0.as_str().to_owned(),
        subject: subject.1,
        owners: owners.to_vec(),
        detail,
        occurred_at: Utc::now(),
    };
    let payload = serde_json::to_value(&job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at)
         SELECT $1, $2, $3, now()
         WHERE EXISTS (SELECT 1 FROM webhooks w
                       WHERE w.instance AND w.active AND $4 = ANY(w.events))
            OR EXISTS (SELECT 1 FROM webhooks w
                       WHERE w.user_id = ANY($5) AND w.active AND $4 = ANY(w.events))",
    )
    .bind(Uuid::now_v7())
    .bind(job.kind())
    .bind(payload)
    .bind(event.as_str())
    .bind(owners)
    .execute(conn)
    .await?;
    Ok(())
}
