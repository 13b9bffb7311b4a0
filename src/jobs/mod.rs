//! Background jobs: a durable queue in Postgres, the kinds of job, and the contract their
//! handlers follow. The worker that runs them sits above the domain, in the `worker` module.
//!
//! - [`enqueue`] inserts a job inside the caller's transaction: if the write that causes
//!   the job rolls back, no job exists; if it commits, the job cannot be lost.
//! - A worker claims a due job with `FOR UPDATE SKIP LOCKED` and a lease that it renews
//!   while the handler runs. A worker that dies stops renewing; once the lease has run out
//!   another worker claims the job again. Two workers never hold the same lease.
//! - Failures are retried with exponential backoff up to the job's `max_attempts`; then, or
//!   at once for a permanent failure, the job is kept as dead with its last error.
//! - Periodic jobs fire from cron schedules; each slot is claimed by one worker only.
//!
//! Handlers are idempotent: a job can run more than once (a worker killed after the work
//! but before recording it), never less.

mod context;
pub mod queue;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ArticleId, CommentId, UserId};

pub use context::{JobContext, JobError};
pub use queue::{enqueue, enqueue_at};

/// Every kind of job, with its payload. Stored as JSON; the kind also in its own column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum_discriminants(
    name(JobKind),
    derive(strum::IntoStaticStr, strum::VariantNames),
    strum(serialize_all = "snake_case")
)]
pub enum Job {
    /// Greets a new member, once.
    SendWelcome { user_id: UserId },
    /// Creates an email-confirmation token and mails it (to the pending address when the
    /// member is changing their email).
    SendConfirmation { user_id: UserId },
    /// Creates a password-reset token and mails it.
    SendPasswordReset { user_id: UserId },
    /// Deletes used and expired email tokens.
    PurgeEmailTokens {},
    /// Makes a scheduled article live when its time comes.
    PublishScheduled { article_id: ArticleId },
    /// Recomputes the hot rank of recent articles (it decays with time).
    RefreshHotScores {},
    /// Notifies the people a new comment concerns.
    NotifyComment { comment_id: CommentId },
    /// Notifies an author of a reaction on their article or comment.
    NotifyReaction {
        actor: UserId,
        item_type: String,
        item: Uuid,
    },
    /// Notifies a member of a new follower.
    NotifyFollow { follower: UserId, followed: UserId },
    /// Deletes read notifications older than 90 days.
    PurgeNotifications {},
    /// Forgets search-index changes older than `search.changes_kept_hours`.
    PurgeSearchChanges {},
    /// Removes stored image files (a deleted account's uploads): each storage key with
    /// the URLs of its resized copies.
    DeleteStoredImages { images: Vec<(String, Vec<String>)> },
    /// Hands an event to the webhooks that want it: renders each one's payload as its
    /// owner sees the subject and queues a delivery. `event_id` makes it idempotent.
    DispatchWebhooks {
        event_id: Uuid,
        event: String,
        /// The subject's type (`Article`, `Comment`, `User`, `Report`) and id.
        subject_type: String,
        subject: Uuid,
        /// The members whose own webhooks hear of it (instance webhooks always do).
        owners: Vec<UserId>,
        /// Facts the subject does not carry (a reaction's category).
        detail: serde_json::Value,
        occurred_at: DateTime<Utc>,
    },
    /// Sends one attempt of a webhook delivery; a failure worth retrying queues the next.
    DeliverWebhook { delivery_id: Uuid, attempt: i32 },
    /// Tells a webhook's owner by email that it was disabled after failing for a day.
    MailWebhookDisabled { webhook_id: Uuid },
    /// Deletes finished webhook deliveries older than 30 days (their bodies hold content).
    PurgeWebhookDeliveries {},
    /// Queues a fetch of every feed source whose time has come.
    FetchDueFeeds {},
    /// Fetches one feed source and imports its new entries.
    FetchFeed { source_id: Uuid },
    /// Mails a member the notifications of a batch they have not read in the app.
    MailNotifications { user_id: UserId },
    /// Queues the weekly digest of each member whose Monday morning has come.
    QueueDigests {},
    /// Mails one member their weekly digest.
    SendDigest { user_id: UserId },
    /// Lifts a member's timed suspension or comment ban once it has ended.
    LiftRestrictions { user_id: UserId },
    /// Tells a member a provider's account was linked to theirs.
    MailIdentityLinked {
        user_id: UserId,
        provider: String,
        login: String,
    },
    /// Builds a member's data export.
    BuildDataExport { export_id: Uuid },
    /// Mails a member that their data export is ready.
    MailDataExport { export_id: Uuid },
    /// Deletes a data export's archive once its link has expired.
    ExpireDataExport { export_id: Uuid },
}

impl Job {
    /// The kind, as stored in the queue's `kind` column and in the payload's `kind` tag.
    pub fn kind(&self) -> &'static str {
        JobKind::from(self).into()
    }
}

/// The kinds a worker runs: every variant of [`Job`], by construction.
pub const KINDS: &[&str] = <JobKind as strum::VariantNames>::VARIANTS;

/// Periodic jobs: a name, a cron expression (seconds first, UTC), and the job.
pub fn schedules() -> Vec<(&'static str, &'static str, Job)> {
    vec![
        (
            "purge_email_tokens",
            "0 17 * * * *",
            Job::PurgeEmailTokens {},
        ),
        (
            "refresh_hot_scores",
            "0 */10 * * * *",
            Job::RefreshHotScores {},
        ),
        (
            "purge_notifications",
            "0 41 3 * * *",
            Job::PurgeNotifications {},
        ),
        ("fetch_due_feeds", "0 */5 * * * *", Job::FetchDueFeeds {}),
        ("queue_digests", "0 7 * * * *", Job::QueueDigests {}),
        (
            "purge_webhook_deliveries",
            "0 53 4 * * *",
            Job::PurgeWebhookDeliveries {},
        ),
        (
            "purge_search_changes",
            "0 23 * * * *",
            Job::PurgeSearchChanges {},
        ),
    ]
}

/// One row of `jobs stats`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct KindStats {
    pub kind: String,
    /// Due now, never failed.
    pub queued: i64,
    pub running: i64,
    /// Waiting for a future run time, never failed.
    pub scheduled: i64,
    /// Waiting for a retry after a failure.
    pub failed: i64,
    pub dead: i64,
}

/// A job as operators see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_kind_is_the_payloads_tag() {
        let jobs = [
            Job::PurgeEmailTokens {},
            Job::NotifyFollow {
                follower: Uuid::nil().into(),
                followed: Uuid::nil().into(),
            },
            Job::DeleteStoredImages { images: Vec::new() },
        ];
        for job in jobs {
            let payload = serde_json::to_value(&job).unwrap_or_default();
            assert_eq!(payload["kind"], job.kind());
            assert!(KINDS.contains(&job.kind()));
        }
        assert_eq!(KINDS.len(), 26);
        assert!(KINDS.contains(&"lift_restrictions"));
        assert!(KINDS.contains(&"purge_search_changes"));
    }
}
