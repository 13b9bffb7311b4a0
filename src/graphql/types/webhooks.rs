use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::outbox;
use crate::domain::page::PageArgs;
use crate::domain::webhooks::{self, Delivery, DeliveryKey, Webhook};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, IntoConnection as _, Total};

/// Something that happens on the platform, as webhooks hear of it.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "outbox::WebhookEvent")]
pub enum WebhookEvent {
    /// An article went live (published now, or its scheduled time came). Subject: the Article.
    ArticlePublished,
    /// A live article was edited. Subject: the Article.
    ArticleUpdated,
    /// A live article was taken back to draft, taken down by a moderator, or deleted
    /// (`detail.deleted`). Subject: the Article (null data once it is gone).
    ArticleUnpublished,
    /// A comment was written on an article of the owner's, or by the owner. Subject: the Comment.
    CommentCreated,
    /// Such a comment was edited. Subject: the Comment.
    CommentUpdated,
    /// Such a comment was deleted. Subject: the Comment.
    CommentDeleted,
    /// Someone reacted to the owner's article or comment (`detail.category`). Subject: the
    /// Article or Comment.
    ReactionCreated,
    /// Someone followed the owner (`detail.followed.username`). Subject: the new follower (User).
    FollowerGained,
    /// A member reported something (instance webhooks only). Subject: the Report.
    ReportCreated,
    /// A member registered (instance webhooks only). Subject: the User.
    MemberJoined,
    /// Sent by `pingWebhook` to check a receiver; cannot be subscribed to. Subject: the owner (User), no data.
    Ping,
}

/// Whose events a webhook hears of.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookScope {
    /// The owner's own content and account (their articles, comments on them and by them,
    /// reactions to them, their followers).
    #[default]
    Member,
    /// Everything on the instance, including reports and registrations. Admins only.
    Instance,
}

/// How a delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "webhooks::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Queued, not tried yet (or queued again by `redeliverWebhookDelivery`).
    Pending,
    /// The last attempt failed; another is queued for `nextAttemptAt`.
    Retrying,
    /// The receiver answered with a 2xx status.
    Succeeded,
    /// Given up: out of attempts, refused by the receiver (a 4xx other than 408 and 429),
    /// or the webhook was disabled.
    Failed,
}

pub struct WebhookNode(pub Webhook);

impl NodeType for WebhookNode {
    const TYPE_NAME: &'static str = "Webhook";
    type Id = Uuid;
}

#[Object(name = "Webhook")]
/// An address that receives the events its owner chose, as signed JSON POSTs. See the
/// README's "Webhooks" for the body, the headers and how to check the signature.
impl WebhookNode {
    /// The webhook's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// Where deliveries are POSTed (https; checked to be on the public internet).
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The events it receives.
    async fn events(&self) -> Vec<WebhookEvent> {
        self.0
            .events()
            .into_iter()
            .map(WebhookEvent::from)
            .collect()
    }
    /// Whose events it hears of.
    async fn scope(&self) -> WebhookScope {
        if self.0.instance {
            WebhookScope::Instance
        } else {
            WebhookScope::Member
        }
    }
    /// The GraphQL selection each payload's `data` is rendered with; null for the
    /// default selection of each subject type.
    async fn selection(&self) -> Option<&str> {
        self.0.selection.as_deref()
    }
    /// Whether deliveries are sent. False after the owner turned it off, or after a day
    /// in which every delivery failed (see `disabledReason`).
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Why it was disabled automatically; null when active or turned off by its owner.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Since when every delivery has failed; null after a success.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// What was sent to it, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<WebhookDeliveryNode>> {
        let page = ctx.page::<DeliveryKey>(PageArgs::new(first, after, last, before))?;
        let db = ctx.state().db.clone();
        let webhook = self.0.id;
        let rows = webhooks::deliveries_page(&db, webhook, &page).await?;
        let total = Total::later(async move { webhooks::deliveries_count(&db, webhook).await });
        Ok(page
            .into_connection(rows.into_iter().map(WebhookDeliveryNode).collect(), |d| {
                (d.0.created_at, d.0.id)
            })?
            .counted(total))
    }
}

pub struct WebhookDeliveryNode(pub Delivery);

impl NodeType for WebhookDeliveryNode {
    const TYPE_NAME: &'static str = "WebhookDelivery";
    type Id = Uuid;
}

#[Object(name = "WebhookDelivery")]
/// One event sent to one webhook, and how its latest attempt went. The same delivery is
/// sent again on retries and redeliveries: receivers can tell by its ID (also in the
/// `X-Vibecoding-Delivery` header, as a UUID).
impl WebhookDeliveryNode {
    /// The delivery's opaque global ID (the body's `id`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The event it tells of.
    async fn event(&self) -> Option<WebhookEvent> {
        outbox::WebhookEvent::from_stored(&self.0.event).map(WebhookEvent::from)
    }
    /// How it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }
    /// Attempts made so far (0 before the first).
    async fn attempt(&self) -> i32 {
        self.0.attempts
    }
    /// The HTTP status of the latest answer; null when there was none (no connection, a
    /// timeout, a refused address).
    async fn response_code(&self) -> Option<i32> {
        self.0.response_status
    }
    /// Why the latest attempt failed without an answer.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// How long the latest attempt took, in milliseconds.
    async fn duration_ms(&self) -> Option<i32> {
        self.0.duration_ms
    }
    /// The JSON body sent: the first 2,000 characters.
    async fn request_excerpt(&self) -> String {
        self.0.body.chars().take(2_000).collect()
    }
    /// The start of the latest answer's body (up to 1 KiB).
    async fn response_excerpt(&self) -> Option<&str> {
        self.0.response_excerpt.as_deref()
    }
    /// When the event was dispatched to this webhook.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the latest attempt was made.
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }
    /// When the next attempt is due; null when none is queued.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }
}
