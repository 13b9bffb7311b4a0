//! The worker: claims jobs, runs their handlers while renewing the lease, records the
//! outcome; fires periodic schedules; stops gracefully. The handlers call into the domain;
//! the queue and the handlers' contract live below it, in `jobs`.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt as _;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::domain::accounts::mailing;
use crate::domain::webhooks::{self, Render};
use crate::domain::{articles, imports, notification_mail, notifications, portability};
use crate::events;
use crate::jobs::{Job, JobContext, JobError, KINDS, queue, schedules};

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done {
        kind: String,
    },
    Retrying {
        kind: String,
        error: String,
    },
    Dead {
        kind: String,
        error: String,
    },
    /// The lease ran out before the handler finished (the worker stalled): the handler was
    /// stopped and the job left to whoever claims it next.
    LeaseLost {
        kind: String,
    },
}

/// What a job's subject records when the job dies: a member waiting on it sees it failed
/// rather than pending for ever. Failures here are logged; the job is dead either way.
async fn given_up(ctx: &JobContext, payload: &serde_json::Value) {
    let done = match <Job as serde::Deserialize>::deserialize(payload) {
        Ok(Job::BuildDataExport { export_id }) => portability::give_up(&ctx.db, export_id).await,
        _ => Ok(()),
    };
    if let Err(e) = done {
        tracing::warn!(error = %e.public_message(), "a dead job's subject could not be updated");
    }
}

async fn handle(ctx: &JobContext, render: &dyn Render, job: Job) -> Result<(), JobError> {
    match job {
        Job::DispatchWebhooks {
            event_id,
            event,
            subject_type,
            subject,
            owners,
            detail,
            occurred_at,
        } => {
            let dispatch = webhooks::Dispatch {
                event_id,
                event,
                subject: (subject_type, subject),
                owners,
                detail,
                occurred_at,
            };
            webhooks::dispatch(ctx, render, dispatch).await
        }
        Job::DeliverWebhook {
            delivery_id,
            attempt,
        } => webhooks::deliver(ctx, delivery_id, attempt).await,
        Job::MailWebhookDisabled { webhook_id } => webhooks::mail_disabled(ctx, webhook_id).await,
        Job::PurgeWebhookDeliveries {} => {
            let purged = webhooks::purge_deliveries(&ctx.db).await?;
            tracing::info!(purged, "old webhook deliveries deleted");
            Ok(())
        }
        Job::FetchDueFeeds {} => imports::queue_due(ctx).await,
        Job::MailNotifications { user_id } => notification_mail::send_batch(ctx, user_id).await,
        Job::QueueDigests {} => notification_mail::queue_digests(ctx).await,
        Job::SendDigest { user_id } => notification_mail::send_digest(ctx, user_id).await,
        Job::LiftRestrictions { user_id } => {
            crate::domain::moderation::lift_expired(&ctx.db, user_id)
                .await
                .map_err(JobError::from)
        }
        Job::FetchFeed { source_id } => imports::fetch(ctx, source_id).await,
        Job::MailIdentityLinked {
            user_id,
            provider,
            login,
        } => mailing::send_identity_linked(ctx, user_id, &provider, &login).await,
        Job::BuildDataExport { export_id } => portability::build(ctx, export_id).await,
        Job::MailDataExport { export_id } => portability::mail_ready(ctx, export_id).await,
        Job::ExpireDataExport { export_id } => portability::expire(&ctx.db, export_id)
            .await
            .map_err(JobError::from),
        Job::SendWelcome { user_id } => mailing::send_welcome(ctx, user_id).await,
        Job::SendConfirmation { user_id } => mailing::send_confirmation(ctx, user_id).await,
        Job::SendPasswordReset { user_id } => mailing::send_password_reset(ctx, user_id).await,
        Job::PurgeEmailTokens {} => mailing::purge_tokens(ctx).await,
        Job::NotifyComment { comment_id } => {
            let notified = notifications::on_comment(&ctx.db, comment_id)
                .await
                .map_err(JobError::from)?;
            push_notifications(ctx, &notified).await;
            Ok(())
        }
        Job::NotifyReaction {
            actor,
            item_type,
            item,
        } => {
            let notified = notifications::on_reaction(&ctx.db, actor, &item_type, item)
                .await
                .map_err(JobError::from)?;
            push_notifications(ctx, &notified).await;
            Ok(())
        }
        Job::NotifyFollow { follower, followed } => {
            let notified = notifications::on_follow(&ctx.db, follower, followed)
                .await
                .map_err(JobError::from)?;
            push_notifications(ctx, &notified).await;
            Ok(())
        }
        Job::DeleteStoredImages { images } => {
            // Removing a file that is already gone is not an error: the job can run twice.
            let storage = crate::storage::Storage::from_settings(&ctx.settings)
                .map_err(|e| JobError::from(crate::error::AppError::internal(e)))?;
            for (key, copies) in images.iter() {
                storage.remove(key, copies).await;
            }
            tracing::info!(images = images.len(), "stored images removed");
            Ok(())
        }
        Job::PurgeSearchChanges {} => {
            let kept = ctx.settings.search.changes_kept_hours;
            let purged = crate::domain::search::index::purge_changes(&ctx.db, kept)
                .await
                .map_err(|e| JobError::from(crate::error::AppError::from(e)))?;
            tracing::info!(purged, "old search-index changes forgotten");
            Ok(())
        }
        Job::PurgeNotifications {} => {
            let purged = notifications::purge_read(&ctx.db)
                .await
                .map_err(JobError::from)?;
            tracing::info!(purged, "old read notifications deleted");
            Ok(())
        }
        Job::RefreshHotScores {} => {
            let days = ctx.settings.feeds.relevant_days;
            let refreshed = crate::domain::ranking::refresh_recent(&ctx.db, days).await?;
            tracing::info!(refreshed, "hot ranks refreshed");
            Ok(())
        }
        Job::PublishScheduled { article_id } => {
            let went_live = articles::service::publish_scheduled(&ctx.db, article_id)
                .await
                .map_err(JobError::from)?;
            if went_live {
                events::publish(&ctx.pubsub, events::ARTICLES, article_id).await;
            }
            Ok(())
        }
    }
}

/// Runs a handler, turning a panic into a failed attempt (retried like any other), so it
/// neither loses the job nor takes the worker loop down with it.
async fn guarded(
    handler: impl std::future::Future<Output = Result<(), JobError>>,
) -> Result<(), JobError> {
    std::panic::AssertUnwindSafe(handler)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(JobError::Retry(anyhow::anyhow!(
                "the handler panicked: {}",
                panic_message(panic.as_ref())
            )))
        })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Tells each member's open connections that they have something new.
async fn push_notifications(ctx: &JobContext, users: &[crate::ids::UserId]) {
    for user in users {
        events::publish(&ctx.pubsub, &events::notifications(*user), *user).await;
    }
}

/// The delay before attempt `attempts + 1`: exponential, capped, with ±20% jitter.
pub fn backoff(settings: &Settings, attempts: i32) -> Duration {
    let base = settings.jobs.backoff_base_secs.max(1) as f64;
    let exp = f64::from(attempts.clamp(1, 30) - 1);
    let secs = (base * 2f64.powf(exp)).min(settings.jobs.backoff_max_secs as f64);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_secs_f64(secs * jitter)
}

pub struct Worker {
    ctx: JobContext,
    /// Renders webhook payloads (through the API, which sits beside the worker).
    render: Arc<dyn Render>,
    id: String,
}

impl Worker {
    pub fn new(ctx: JobContext, render: Arc<dyn Render>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
        let id = format!(
            "{host}:{}:{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        Self { ctx, render, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.ctx.settings.jobs.lease_secs.max(1))
    }

    /// Claims and runs one due job of `kinds`; `None` when none is due. The single step
    /// tests drive the queue with.
    pub async fn try_execute_one(&self, kinds: &[&str]) -> anyhow::Result<Option<Outcome>> {
        let lease = self.lease();
        let Some(claimed) = queue::claim(&self.ctx.db, &self.id, kinds, lease).await? else {
            return Ok(None);
        };
        let kind = claimed.kind.clone();
        let span = tracing::info_span!("job", job_id = %claimed.id, kind = %kind, attempt = claimed.attempts);
        let _enter = span.enter();
        let held = queue::Lease {
            id: claimed.id,
            worker: &self.id,
            attempt: claimed.attempts,
        };
        // Read in place: the payload stays for the job's last word, should it die.
        let result = match <Job as serde::Deserialize>::deserialize(&claimed.payload) {
            Ok(job) => {
                // A panicking handler is a failed attempt like any other: retried, and
                // the worker loop lives on.
                // On the heap: the handlers' futures are large, and the worker's stack is
                // not the place for them.
                let mut run = Box::pin(guarded(handle(&self.ctx, self.render.as_ref(), job)));
                let mut heartbeat = tokio::time::interval(lease / 3);
                heartbeat.tick().await;
                loop {
                    tokio::select! {
                        result = &mut run => break result,
                        _ = heartbeat.tick() => {
                            match queue::renew(&self.ctx.db, held, lease).await {
                                Ok(true) => {}
                                Ok(false) => {
                                    tracing::warn!(job = %claimed.id, kind, "lost the job's lease; stopping its handler");
                                    return Ok(Some(Outcome::LeaseLost { kind }));
                                }
                                Err(e) => tracing::warn!(error = %e, "could not renew the job's lease"),
                            }
                        }
                    }
                }
            }
            Err(e) => Err(JobError::Permanent(anyhow::anyhow!(
                "unreadable payload: {e}"
            ))),
        };
        let outcome = match result {
            Ok(()) => {
                if !queue::complete(&self.ctx.db, held).await? {
                    tracing::warn!(job = %claimed.id, kind, "the job's lease ran out before it was recorded done");
                    return Ok(Some(Outcome::LeaseLost { kind }));
                }
                tracing::info!("job done");
                Outcome::Done { kind }
            }
            Err(JobError::Retry(e)) if claimed.attempts < claimed.max_attempts => {
                let error = format!("{e:#}");
                let at = Utc::now()
                    + chrono::Duration::from_std(backoff(&self.ctx.settings, claimed.attempts))
                        .unwrap_or_default();
                queue::retry_later(&self.ctx.db, held, &error, at).await?;
                tracing::warn!(job = %claimed.id, kind, error = %error, retry_at = %at, "job failed; will retry");
                Outcome::Retrying { kind, error }
            }
            Err(JobError::Retry(e) | JobError::Permanent(e)) => {
                let error = format!("{e:#}");
                queue::bury(&self.ctx.db, held, &error).await?;
                given_up(&self.ctx, &claimed.payload).await;
                // The kind and id ride on the event itself, so error reports name them.
                tracing::error!(job = %claimed.id, kind, error = %error, "job is dead");
                Outcome::Dead { kind, error }
            }
        };
        Ok(Some(outcome))
    }

    /// Runs every due job until none is left (tests, and `jobs drain`).
    pub async fn drain(&self) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        while let Some(outcome) = self.try_execute_one(KINDS).await? {
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Enqueues each periodic job whose slot has come, once across all workers.
    pub async fn fire_due_schedules(&self) -> anyhow::Result<()> {
        let now = Utc::now();
        for (name, expression, job) in schedules() {
            let schedule = cron::Schedule::from_str(expression)?;
            let last = queue::schedule_last_run(&self.ctx.db, name).await?;
            // The first time, start from now: no catching up on slots before the schedule existed.
            let Some(last) = last else {
                queue::init_schedule(&self.ctx.db, name, now).await?;
                continue;
            };
            // Only the latest slot that has come: missed ones (workers were down) are not
            // made up for, one run covers them.
            if let Some(slot) = schedule.after(&last).take_while(|s| *s <= now).last()
                && queue::fire_schedule(&self.ctx.db, name, slot, &job).await?
            {
                tracing::info!(schedule = name, "periodic job enqueued");
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` turns true: per kind, as many loops as its concurrency, plus
    /// the scheduler. Then stops claiming, gives running jobs the shutdown timeout to
    /// finish, and hands back the ones that did not.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let worker = Arc::new(self);
        let settings = worker.ctx.settings.clone();
        let poll = Duration::from_millis(settings.jobs.poll_interval_ms.max(10));
        let mut tasks = JoinSet::new();
        for kind in KINDS {
            for _ in 0..settings.jobs.concurrency_of(kind) {
                let worker = worker.clone();
                let mut stop = shutdown.clone();
                tasks.spawn(async move {
                    while !*stop.borrow() {
                        match worker.try_execute_one(&[kind]).await {
                            Ok(Some(_)) => continue,
                            Ok(None) => {}
                            Err(e) => tracing::warn!(error = %e, "job queue unavailable"),
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(poll) => {}
                            _ = stop.changed() => {}
                        }
                    }
                });
            }
        }
        {
            let worker = worker.clone();
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                while !*stop.borrow() {
                    if let Err(e) = worker.fire_due_schedules().await {
                        tracing::warn!(error = %e, "could not fire periodic jobs");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
        tracing::info!(worker = %worker.id, kinds = ?KINDS, "worker started");
        let _ = shutdown.wait_for(|stop| *stop).await;
        tracing::info!("worker stopping: finishing running jobs");
        let grace = Duration::from_secs(settings.jobs.shutdown_timeout_secs);
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        let released = queue::release_all(&worker.ctx.db, &worker.id).await?;
        if released > 0 {
            tracing::warn!(released, "handed back jobs that did not finish in time");
        }
        tracing::info!("worker stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_a_failed_attempt() {
        #[allow(clippy::panic)]
        let outcome = guarded(async { panic!("boom at {}", 42) }).await;
        match outcome {
            Err(JobError::Retry(e)) => assert!(e.to_string().contains("boom at 42"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(guarded(async { Ok(()) }).await.is_ok());
    }
}
