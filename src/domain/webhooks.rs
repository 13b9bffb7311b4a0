//! Webhooks: a member's, for events about their own content and account, or an admin's,
//! for the whole instance. An event recorded by [`outbox`](super::outbox) reaches each
//! webhook that wants it as a delivery: its body rendered once, as the owner sees the
//! subject, through the webhook's GraphQL selection ([`Render`]); then sent, signed, by
//! a job, retried with backoff after a 5xx, a 408, a 429 or no answer, until it succeeds,
//! runs out of attempts, or its webhook is disabled after a day of nothing but failures
//! (its owner is told by email).
//!
//! Requests go through the outbound guard: never to a private network.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::accounts::{Role, Viewer};
use super::outbox::{Subject, WebhookEvent};
use super::page::{PageRequest, capped_count_sql};
use crate::config::Settings;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::UserId;
use crate::jobs::{self, Job, JobContext, JobError};
use crate::outbound;

/// How much of a receiver's answer a delivery keeps.
pub const EXCERPT: usize = 1_024;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub id: Uuid,
    pub user_id: UserId,
    pub instance: bool,
    pub url: String,
    pub events: Vec<String>,
    pub selection: Option<String>,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// The events it wants, as the enum (a stored name no longer known is left out).
    pub fn events(&self) -> Vec<WebhookEvent> {
        self.events
            .iter()
            .filter_map(|e| WebhookEvent::from_stored(e))
            .collect()
    }
}

const COLUMNS: &str = "id, user_id, instance, url, events, selection, active, disabled_reason, \
                       failing_since, created_at, updated_at";
/// [`COLUMNS`] of a webhook named `w`.
const W_COLUMNS: &str = "w.id, w.user_id, w.instance, w.url, w.events, w.selection, w.active, \
                         w.disabled_reason, w.failing_since, w.created_at, w.updated_at";

/// How a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Queued, not tried yet (or queued again).
    Pending,
    /// Failed, with another attempt queued.
    Retrying,
    Succeeded,
    /// Failed for good: out of attempts, refused by the receiver, or its webhook disabled.
    Failed,
}

crate::text_enum!(DeliveryStatus {
    Pending = "pending",
    Retrying = "retrying",
    Succeeded = "succeeded",
    Failed = "failed",
});

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event, body, status, attempts, response_status, \
     response_excerpt, error, duration_ms, created_at, last_attempt_at, next_attempt_at";

/// Renders a delivery's data: runs `selection` (the default one for the subject's type
/// when `None`) on the subject, as `owner` would see it. Implemented above the domain, by
/// the API.
pub trait Render: Send + Sync {
    /// The `data` of the selection, and the messages of any errors it answered with.
    fn render<'a>(
        &'a self,
        owner: &'a Viewer,
        selection: Option<&'a str>,
        subject: (Subject, Uuid),
    ) -> BoxFuture<'a, AppResult<(Value, Vec<String>)>>;

    /// The global ID clients know `id` of `type_name` by.
    fn global_id(&self, type_name: &str, id: Uuid) -> String;
}

/// A receiver's URL that passed [`check_url`].
#[derive(Debug, Clone)]
pub struct CheckedUrl(String);

/// What a webhook is made of: the events checked by [`check_scope`], the selection by
/// the API (it knows the schema).
pub struct Draft {
    pub url: CheckedUrl,
    pub events: Vec<WebhookEvent>,
    pub selection: Option<String>,
    pub instance: bool,
}

/// What changes: `None` leaves a field as it is (`selection: Some(None)` returns to the
/// default payloads).
#[derive(Default)]
pub struct Change {
    pub url: Option<CheckedUrl>,
    pub events: Option<Vec<WebhookEvent>>,
    pub selection: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Checks the scope and the events together: instance webhooks are for admins, and the
/// instance's events (REPORT_CREATED, MEMBER_JOINED) for instance webhooks.
pub fn check_scope(viewer: &Viewer, instance: bool, events: &[WebhookEvent]) -> AppResult<()> {
    if instance && viewer.require_role(Role::Admin).is_err() {
        return Err(AppError::Forbidden(
            "Only admins may add webhooks for the whole instance".to_owned(),
        ));
    }
    if events.is_empty() {
        return Err(AppError::invalid(
            "events",
            Problem::Blank,
            "choose at least one event",
        ));
    }
    if events.contains(&WebhookEvent::Ping) {
        return Err(AppError::invalid(
            "events",
            Problem::Invalid,
            "PING is sent on request (pingWebhook), not subscribed to",
        ));
    }
    if let Some(event) = events.iter().find(|e| e.instance_only())
        && !instance
    {
        return Err(AppError::invalid(
            "events",
            Problem::Invalid,
            format!(
                "{event} is an instance event: only an instance webhook (scope INSTANCE) receives it"
            ),
        ));
    }
    Ok(())
}

/// Checks a receiver's URL through the outbound guard (resolved, public addresses only).
pub async fn check_url(settings: &Settings, raw: &str) -> AppResult<CheckedUrl> {
    let target = outbound::check(&settings.outbound, "url", raw).await?;
    Ok(CheckedUrl(target.url.to_string()))
}

fn names(events: &[WebhookEvent]) -> Vec<&'static str> {
    let mut names: Vec<_> = events.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// A new signing secret: 32 random bytes, as the owner will see it once.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", hex::encode(bytes))
}

/// Creates a webhook; returns it with its signing secret, which is never shown again.
pub async fn create(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    draft: Draft,
) -> AppResult<(Webhook, String)> {
    let secret = new_secret();
    let mut tx = db.begin().await?;
    // One at a time per member, so the limit holds under concurrent requests.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE user_id = $1")
        .bind(viewer.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= settings.webhooks.max_per_member {
        return Err(AppError::input_rule(format!(
            "a member may have at most {} webhooks; delete one first",
            settings.webhooks.max_per_member
        )));
    }
    let hook = sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhooks (id, user_id, instance, url, events, selection, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(viewer.user_id)
    .bind(draft.instance)
    .bind(draft.url.0)
    .bind(names(&draft.events))
    .bind(draft.selection)
    .bind(&secret)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((hook, secret))
}

/// The viewer's own webhook `id`, or NOT_FOUND.
pub async fn owned(db: &PgPool, viewer: &Viewer, id: Uuid) -> AppResult<Webhook> {
    find_many(db, viewer.user_id, &[id])
        .await?
        .pop()
        .ok_or_else(|| AppError::NotFound("No such webhook".to_owned()))
}

/// Changes a webhook. Turning it on again forgets its failures.
pub async fn update(db: &PgPool, viewer: &Viewer, id: Uuid, change: Change) -> AppResult<Webhook> {
    let url = change.url.map(|u| u.0);
    let events = change.events.as_deref().map(names);
    let (set_selection, selection) = match change.selection {
        Some(selection) => (true, selection),
        None => (false, None),
    };
    let hook = sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(format!(
        "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events),
                selection = CASE WHEN $5 THEN $6 ELSE selection END,
                active = COALESCE($7, active),
                disabled_reason = CASE WHEN COALESCE($7, active) THEN NULL ELSE disabled_reason END,
                failing_since = CASE WHEN $7 AND NOT active THEN NULL ELSE failing_since END,
                updated_at = now()
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(viewer.user_id)
    .bind(url)
    .bind(events)
    .bind(set_selection)
    .bind(selection)
    .bind(change.active)
    .fetch_optional(db)
    .await?;
    hook.ok_or_else(|| AppError::NotFound("No such webhook".to_owned()))
}

/// Deletes a webhook and its deliveries.
pub async fn delete(db: &PgPool, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(viewer.user_id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound("No such webhook".to_owned()));
    }
    Ok(())
}

/// The member's webhooks, newest first (at most `webhooks.max_per_member`).
pub async fn list(db: &PgPool, user: UserId) -> AppResult<Vec<Webhook>> {
    Ok(sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    )))
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// Webhooks by id, those of `user` only.
pub async fn find_many(db: &PgPool, user: UserId, ids: &[Uuid]) -> AppResult<Vec<Webhook>> {
    Ok(sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = ANY($1) AND user_id = $2"
    )))
    .bind(ids)
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// Deliveries by id, of `user`'s webhooks only.
pub async fn find_deliveries(db: &PgPool, user: UserId, ids: &[Uuid]) -> AppResult<Vec<Delivery>> {
    Ok(sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE id = ANY($1) AND webhook_id IN (SELECT id FROM webhooks WHERE user_id = $2)"
    )))
    .bind(ids)
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// Where a delivery sits in its webhook's list: newest first.
pub type DeliveryKey = (DateTime<Utc>, Uuid);

/// A page of a webhook's deliveries, newest first.
pub async fn deliveries_page(
    db: &PgPool,
    webhook: Uuid,
    page: &PageRequest<DeliveryKey>,
) -> AppResult<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND {page}",
        page = page.newest_sql("created_at", "id", 2)
    );
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(webhook);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// How many deliveries a webhook has (capped like every count).
pub async fn deliveries_count(db: &PgPool, webhook: Uuid) -> AppResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(
        "FROM webhook_deliveries WHERE webhook_id = $1",
    )))
    .bind(webhook)
    .fetch_one(db)
    .await?)
}

/// The body every delivery sends: what happened, to what, and the rendered data.
struct Envelope {
    delivery: Uuid,
    webhook: Uuid,
    event: WebhookEvent,
    occurred_at: DateTime<Utc>,
    subject: (Subject, Uuid),
    detail: Value,
    data: Value,
    errors: Vec<String>,
}

impl Envelope {
    /// The JSON body, with global IDs as clients know them.
    fn body(self, global_id: &(dyn Fn(&str, Uuid) -> String + Sync)) -> String {
        let mut body = json!({
            "id": global_id("WebhookDelivery", self.delivery),
            "event": self.event.as_str(),
            "occurredAt": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "webhookId": global_id("Webhook", self.webhook),
            "subject": {
                "type": self.subject.0.as_str(),
                "id": global_id(self.subject.0.as_str(), self.subject.1),
            },
            "detail": self.detail,
            "data": self.data,
        });
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|m| json!({ "message": m }))
                .collect();
            body["errors"] = json!(errors);
        }
        body.to_string()
    }
}

/// The member behind a webhook, as a reader with no credential; `None` once they are gone.
async fn owner(db: &PgPool, user: UserId) -> AppResult<Option<Viewer>> {
    super::accounts::service::as_member(db, "FROM users u WHERE u.id = $1", user).await
}

/// One event to dispatch (a [`Job::DispatchWebhooks`]).
pub struct Dispatch {
    pub event_id: Uuid,
    pub event: String,
    pub subject: (String, Uuid),
    pub owners: Vec<UserId>,
    pub detail: Value,
    pub occurred_at: DateTime<Utc>,
}

/// Hands an event to every webhook that wants it: a delivery each, rendered as its owner
/// sees the subject, queued with the delivery in one transaction. Runs again harmlessly:
/// a webhook that has its delivery of the event already is skipped.
pub async fn dispatch(
    ctx: &JobContext,
    render: &dyn Render,
    job: Dispatch,
) -> Result<(), JobError> {
    let unknown = |what: &str| JobError::Permanent(anyhow::anyhow!("unknown {what}"));
    let event = WebhookEvent::from_stored(&job.event).ok_or_else(|| unknown("event"))?;
    let subject = (
        Subject::from_stored(&job.subject.0).ok_or_else(|| unknown("subject type"))?,
        job.subject.1,
    );
    let hooks = sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(format!(
        "SELECT {W_COLUMNS} FROM webhooks w JOIN users u ON u.id = w.user_id
         WHERE w.active AND $1 = ANY(w.events) AND (w.instance OR w.user_id = ANY($2))
           -- The owner as they stand now: a suspended member's webhooks hear nothing, an
           -- instance webhook only while its owner is an admin.
           AND u.deleted_at IS NULL AND u.suspended_reason IS NULL
           AND (NOT w.instance OR u.role = 'admin')
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.event_id = $3)
         ORDER BY w.id"
    )))
    .bind(event.as_str())
    .bind(&job.owners)
    .bind(job.event_id)
    .fetch_all(&ctx.db)
    .await?;
    // A webhook whose payload cannot be rendered now does not hold up the others: the job
    // fails after trying them all, and its next run skips those delivered already.
    let mut failed = None;
    for hook in hooks {
        let Some(owner) = owner(&ctx.db, hook.user_id).await? else {
            continue;
        };
        let (data, errors) = match render
            .render(&owner, hook.selection.as_deref(), subject)
            .await
        {
            Ok(rendered) => rendered,
            Err(e) => {
                tracing::warn!(webhook = %hook.id, error = %e.public_message(), "a webhook payload could not be rendered");
                failed = Some(e);
                continue;
            }
        };
        let id = Uuid::now_v7();
        let body = Envelope {
            delivery: id,
            webhook: hook.id,
            event,
            occurred_at: job.occurred_at,
            subject,
            detail: job.detail.clone(),
            data,
            errors,
        }
        .body(&|t, id| render.global_id(t, id));
        queue_delivery(&ctx.db, id, &hook, job.event_id, event, &body).await?;
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Stores a delivery and queues its first attempt, together; nothing when the webhook has
/// its delivery of `event_id` already.
async fn queue_delivery(
    db: &PgPool,
    id: Uuid,
    hook: &Webhook,
    event_id: Uuid,
    event: WebhookEvent,
    body: &str,
) -> AppResult<Option<Delivery>> {
    let mut tx = db.begin().await?;
    let delivery = sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, body, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING {DELIVERY_COLUMNS}"
    )))
    .bind(id)
    .bind(hook.id)
    .bind(event_id)
    .bind(event.as_str())
    .bind(body)
    .fetch_optional(&mut *tx)
    .await?;
    if delivery.is_some() {
        jobs::enqueue(
            &mut tx,
            &Job::DeliverWebhook {
                delivery_id: id,
                attempt: 1,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(delivery)
}

/// Queues a PING to the viewer's webhook `id`, whatever events it wants.
pub async fn ping(
    db: &PgPool,
    global_id: &(dyn Fn(&str, Uuid) -> String + Sync),
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Delivery> {
    let hook = owned(db, viewer, id).await?;
    if !hook.active {
        return Err(disabled());
    }
    let delivery = Uuid::now_v7();
    let detail = json!({ "url": hook.url, "events": hook.events });
    let body = Envelope {
        delivery,
        webhook: hook.id,
        event: WebhookEvent::Ping,
        occurred_at: Utc::now(),
        subject: (Subject::User, viewer.user_id.into()),
        detail,
        data: Value::Null,
        errors: Vec::new(),
    }
    .body(global_id);
    queue_delivery(
        db,
        delivery,
        &hook,
        Uuid::now_v7(),
        WebhookEvent::Ping,
        &body,
    )
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("a new event id was taken")))
}

fn disabled() -> AppError {
    AppError::input_rule(
        "the webhook is disabled: turn it on again (updateWebhook, active: true) first",
    )
}

/// Sends a delivery again, as it was first rendered, with its id unchanged (receivers
/// that saw it already can tell).
pub async fn redeliver(db: &PgPool, viewer: &Viewer, id: Uuid) -> AppResult<Delivery> {
    let delivery = find_deliveries(db, viewer.user_id, &[id])
        .await?
        .pop()
        .ok_or_else(|| AppError::NotFound("No such delivery".to_owned()))?;
    let hook = owned(db, viewer, delivery.webhook_id).await?;
    if !hook.active {
        return Err(disabled());
    }
    let mut tx = db.begin().await?;
    let delivery = sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
         WHERE id = $1 RETURNING {DELIVERY_COLUMNS}"
    )))
    .bind(delivery.id)
    .fetch_one(&mut *tx)
    .await?;
    jobs::enqueue(
        &mut tx,
        &Job::DeliverWebhook {
            delivery_id: delivery.id,
            attempt: delivery.attempts + 1,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(delivery)
}

/// How long finished deliveries are kept.
pub const KEEP_DELIVERIES_DAYS: i32 = 30;

/// Deletes finished deliveries older than [`KEEP_DELIVERIES_DAYS`].
pub async fn purge_deliveries(db: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM webhook_deliveries
         WHERE status IN ('succeeded', 'failed') AND created_at < now() - make_interval(days => $1)",
    )
    .bind(KEEP_DELIVERIES_DAYS)
    .execute(db)
    .await?
    .rows_affected())
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, Stripe's scheme.
pub fn signature(secret: &str, at: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(sqlx::FromRow)]
struct Sending {
    body: String,
    event: String,
    attempts: i32,
    webhook_id: Uuid,
    url: String,
    secret: String,
    active: bool,
}

/// What one attempt came to.
struct Attempt {
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
    duration_ms: i32,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Worth another try: no answer, a server error, or "come back later".
    fn retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s >= 500 || s == 408 || s == 429,
        }
    }
}

/// Sends attempt `attempt` of delivery `id` and records it; queues the next attempt when
/// this one failed in a way worth retrying. Runs again harmlessly: an attempt already
/// recorded is not sent twice.
pub async fn deliver(ctx: &JobContext, id: Uuid, attempt: i32) -> Result<(), JobError> {
    let row = sqlx::query_as::<_, Sending>(
        "SELECT d.body, d.event, d.attempts, d.webhook_id, w.url, w.secret, w.active
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(row) = row else {
        return Ok(()); // The webhook was deleted.
    };
    if row.attempts >= attempt {
        return Ok(());
    }
    if !row.active {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,
                    error = 'the webhook is disabled'
             WHERE id = $1 AND attempts < $2",
        )
        .bind(id)
        .bind(attempt)
        .execute(&ctx.db)
        .await?;
        return Ok(());
    }
    let sent = send(&ctx.settings, id, &row).await;
    record(ctx, id, attempt, &row, &sent).await?;
    Ok(())
}

async fn send(settings: &Settings, id: Uuid, row: &Sending) -> Attempt {
    let started = Instant::now();
    let elapsed =
        |started: Instant| i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let failed = |error: String| Attempt {
        status: None,
        excerpt: None,
        error: Some(error),
        duration_ms: elapsed(started),
    };
    let target = match outbound::check(&settings.outbound, "url", &row.url).await {
        Ok(target) => target,
        Err(e) => return failed(e.public_message()),
    };
    let client = match outbound::client(&settings.outbound, &target) {
        Ok(client) => client,
        Err(e) => return failed(e.public_message()),
    };
    let now = Utc::now().timestamp();
    let request = client
        .post(target.url.clone())
        .header("content-type", "application/json")
        .header("x-vibecoding-event", &row.event)
        .header("x-vibecoding-delivery", id.to_string())
        .header(
            "x-vibecoding-signature",
            signature(&row.secret, now, &row.body),
        )
        .body(row.body.clone());
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return failed(outbound::Failure::of(&settings.outbound, &e).to_string()),
    };
    let status = response.status().as_u16();
    // The start of the answer, for the owner to read; the rest is not waited for.
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    excerpt.truncate(EXCERPT);
    let excerpt = String::from_utf8_lossy(&excerpt).into_owned();
    Attempt {
        status: Some(status),
        excerpt: Some(
            excerpt
                .chars()
                .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
                .collect(),
        ),
        error: None,
        duration_ms: elapsed(started),
    }
}

/// The wait before attempt `next`: doubling from `retry_base_secs`, capped.
fn backoff(settings: &Settings, next: i32) -> chrono::TimeDelta {
    let base = settings.webhooks.retry_base_secs;
    let doublings = u32::try_from((next - 2).clamp(0, 20)).unwrap_or(0);
    let secs = base
        .saturating_mul(1u64 << doublings)
        .min(settings.webhooks.retry_max_secs);
    chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Records an attempt: the delivery's state, the webhook's run of failures, and what comes
/// next (another attempt, or the webhook disabled and its owner told), in one transaction.
async fn record(
    ctx: &JobContext,
    id: Uuid,
    attempt: i32,
    row: &Sending,
    sent: &Attempt,
) -> Result<(), JobError> {
    let settings = &ctx.settings.webhooks;
    let mut tx = ctx.db.begin().await?;
    let mut status = if sent.succeeded() {
        DeliveryStatus::Succeeded
    } else if sent.retryable() && attempt < settings.max_attempts {
        DeliveryStatus::Retrying
    } else {
        DeliveryStatus::Failed
    };
    if sent.succeeded() {
        sqlx::query("UPDATE webhooks SET failing_since = NULL WHERE id = $1")
            .bind(row.webhook_id)
            .execute(&mut *tx)
            .await?;
    } else {
        let was_active: bool =
            sqlx::query_scalar("SELECT active FROM webhooks WHERE id = $1 FOR UPDATE")
                .bind(row.webhook_id)
                .fetch_one(&mut *tx)
                .await?;
        let disabled: bool = sqlx::query_scalar(
            "UPDATE webhooks SET failing_since = COALESCE(failing_since, now()),
                    active = active AND COALESCE(failing_since, now()) > now() - make_interval(hours => $2::int),
                    disabled_reason = CASE WHEN COALESCE(failing_since, now()) > now() - make_interval(hours => $2::int)
                                           THEN disabled_reason
                                           ELSE 'every delivery failed for ' || $2 || ' hours' END
             WHERE id = $1 RETURNING NOT active",
        )
        .bind(row.webhook_id)
        .bind(i32::try_from(settings.disable_after_hours).unwrap_or(i32::MAX))
        .fetch_one(&mut *tx)
        .await?;
        if disabled {
            status = DeliveryStatus::Failed;
            // Once: only the attempt that turned it off finds it was on.
            if was_active {
                jobs::enqueue(
                    &mut tx,
                    &Job::MailWebhookDisabled {
                        webhook_id: row.webhook_id,
                    },
                )
                .await?;
            }
        }
    }
    let next_at = (status == DeliveryStatus::Retrying)
        .then(|| Utc::now() + backoff(&ctx.settings, attempt + 1));
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET status = $3, attempts = $2, response_status = $4,
                response_excerpt = $5, error = $6, duration_ms = $7, last_attempt_at = now(),
                next_attempt_at = $8
         WHERE id = $1 AND attempts < $2",
    )
    .bind(id)
    .bind(attempt)
    .bind(status)
    .bind(sent.status.map(i32::from))
    .bind(&sent.excerpt)
    .bind(&sent.error)
    .bind(sent.duration_ms)
    .bind(next_at)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        // Another run recorded this attempt first.
        return Ok(());
    }
    if let Some(at) = next_at {
        jobs::enqueue_at(
            &mut tx,
            &Job::DeliverWebhook {
                delivery_id: id,
                attempt: attempt + 1,
            },
            Some(at),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Tells a disabled webhook's owner, by email, why and how to turn it on again.
pub async fn mail_disabled(ctx: &JobContext, webhook: Uuid) -> Result<(), JobError> {
    #[derive(sqlx::FromRow)]
    struct Disabled {
        username: String,
        name: String,
        email: Option<String>,
        url: String,
        disabled_reason: Option<String>,
        active: bool,
    }
    let row = sqlx::query_as::<_, Disabled>(
        "SELECT u.username::text AS username, u.name, u.email::text AS email, w.url,
                w.disabled_reason, w.active
         FROM webhooks w JOIN users u ON u.id = w.user_id
         WHERE w.id = $1 AND u.deleted_at IS NULL",
    )
    .bind(webhook)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(Disabled {
        username,
        name,
        email: Some(to),
        url,
        disabled_reason: reason,
        active: false,
    }) = row
    else {
        return Ok(()); // Gone, or on again already.
    };
    let email = crate::mail::templates::webhook_disabled(
        &to,
        &name,
        &username,
        &url,
        reason.as_deref().unwrap_or("its deliveries failed"),
    );
    Ok(ctx.mailer.send(&email).await?)
}
