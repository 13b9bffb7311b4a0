use async_graphql::{Context, ID, MaybeUndefined, Object};

use crate::domain::outbox;
use crate::domain::webhooks::{self, Change, Draft};
use crate::error::{AllValid as _, AppError, AppResult};
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::webhooks::{
    WebhookDeliveryNode, WebhookEvent, WebhookNode, WebhookScope,
};
use crate::graphql::webhook_payload;
use crate::limits::Action;

mutation_input! {
    /// A new webhook.
    CreateWebhookInput {
        /// Where to POST deliveries: an https:// URL on the public internet (private,
        /// loopback, link-local and metadata addresses are refused).
        url: String,
        /// The events to receive (at least one; not PING).
        events: Vec<WebhookEvent>,
        /// The GraphQL selection each payload's `data` is rendered with, as the owner
        /// would query it: `fragment on Article { title url author { username } }`, or
        /// `{ id }` for any subject. It must apply to the subject of every chosen event
        /// (use `fragment on Node { ... on Article { title } ... on Comment { url } }`
        /// for several). At most 4,000 characters. Left out: a default selection per
        /// subject type.
        selection: Option<String>,
        /// Whose events: MEMBER (the default) or, for admins, INSTANCE.
        #[graphql(default)]
        scope: WebhookScope,
    }
}

mutation_payload! {
    /// The new webhook, and the secret its deliveries are signed with.
    CreateWebhookPayload {
        /// The webhook.
        webhook: Option<WebhookNode>,
        /// The signing secret (`whsec_...`): shown only now. Check each delivery's
        /// `X-Vibecoding-Signature` with it.
        secret: Option<String>,
    }
}

mutation_input! {
    /// What to change in one of the viewer's webhooks; fields left out stay as they are.
    UpdateWebhookInput {
        /// The webhook's global ID.
        id: ID,
        /// A new receiver URL (checked like a new webhook's).
        url: Option<String>,
        /// The events to receive from now on.
        events: Option<Vec<WebhookEvent>>,
        /// A new selection; null returns to the default selections.
        selection: MaybeUndefined<String>,
        /// Turn deliveries off or on. Turning a disabled webhook on forgets its failures.
        active: Option<bool>,
    }
}

mutation_payload! {
    /// The webhook as it is now.
    UpdateWebhookPayload {
        /// The webhook.
        webhook: Option<WebhookNode>,
    }
}

mutation_input! {
    /// One of the viewer's webhooks.
    DeleteWebhookInput {
        /// The webhook's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// A webhook deleted, with its deliveries.
    DeleteWebhookPayload {
        /// The deleted webhook's ID, to drop it from `viewer.webhooks`.
        deleted_webhook_id: Option<ID>,
    }
}

mutation_input! {
    /// One of the viewer's webhooks, to send a PING to.
    PingWebhookInput {
        /// The webhook's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// The PING delivery, queued.
    PingWebhookPayload {
        /// The delivery: PENDING until the worker sends it (see `webhook.deliveries`).
        delivery: Option<WebhookDeliveryNode>,
    }
}

mutation_input! {
    /// A delivery of one of the viewer's webhooks.
    RedeliverWebhookDeliveryInput {
        /// The delivery's global ID.
        delivery_id: ID,
    }
}

mutation_payload! {
    /// The delivery, queued again.
    RedeliverWebhookDeliveryPayload {
        /// The delivery, PENDING again; its body and ID are unchanged.
        delivery: Option<WebhookDeliveryNode>,
    }
}

fn events(chosen: &[WebhookEvent]) -> Vec<outbox::WebhookEvent> {
    let mut events: Vec<outbox::WebhookEvent> = chosen.iter().map(|e| (*e).into()).collect();
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    events
}

/// Checks a selection for `events`, when there is one.
async fn check_selection(
    ctx: &Context<'_>,
    selection: Option<&str>,
    events: &[outbox::WebhookEvent],
) -> AppResult<()> {
    match selection {
        Some(selection) => webhook_payload::check(&ctx.state().settings, selection, events).await,
        None => Ok(()),
    }
}

async fn check_url(
    ctx: &Context<'_>,
    url: Option<&str>,
) -> AppResult<Option<webhooks::CheckedUrl>> {
    match url {
        Some(url) => Ok(Some(webhooks::check_url(&ctx.state().settings, url).await?)),
        None => Ok(None),
    }
}

fn global_id(type_name: &str, id: uuid::Uuid) -> String {
    node::encode(type_name, id).0
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Adds a webhook for the signed-in member's own content, or (admins, scope INSTANCE)
    /// for the whole instance. Every field is checked at once: the URL (resolved; public
    /// addresses only), the events (instance events need scope INSTANCE), the selection
    /// (against the schema, for each event's subject). A member has at most
    /// `webhooks.max_per_member` (20) webhooks.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook.")] input: CreateWebhookInput,
    ) -> async_graphql::Result<CreateWebhookPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            viewer.require_writer()?;
            limit(ctx, Action::Webhook, None).await?;
            let instance = input.scope == WebhookScope::Instance;
            let events = events(&input.events);
            let selection = input.selection.as_deref();
            let (_, url, _) = (
                webhooks::check_scope(viewer, instance, &events),
                webhooks::check_url(&ctx.state().settings, &input.url).await,
                check_selection(ctx, selection, &events).await,
            )
                .all_valid()?;
            let draft = Draft {
                url,
                events,
                selection: input.selection.clone(),
                instance,
            };
            let state = ctx.state();
            let (hook, secret) =
                webhooks::create(&state.db, &state.settings, viewer, draft).await?;
            Ok(CreateWebhookPayload {
                webhook: Some(WebhookNode(hook)),
                secret: Some(secret),
                ..Default::default()
            })
        })
        .await
    }

    /// Changes one of the viewer's webhooks; NOT_FOUND when there is no such webhook of
    /// theirs. The events and the selection are checked together, as they are after the
    /// change.
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateWebhookInput,
    ) -> async_graphql::Result<UpdateWebhookPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            viewer.require_writer()?;
            limit(ctx, Action::Webhook, None).await?;
            let id = node::decode_as::<WebhookNode>(&input.id)?;
            let db = &ctx.state().db;
            let hook = webhooks::owned(db, viewer, id).await?;
            let chosen = input.events.as_deref().map(events);
            let after_events = chosen.clone().unwrap_or_else(|| hook.events());
            let after_selection = match &input.selection {
                MaybeUndefined::Undefined => hook.selection.clone(),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(s) => Some(s.clone()),
            };
            // Turning a webhook off needs no right to its scope (an admin no longer may
            // still silence an instance webhook of theirs).
            let only_off = input.url.is_none()
                && input.events.is_none()
                && input.selection.is_undefined()
                && input.active == Some(false);
            let scope = if only_off {
                Ok(())
            } else {
                webhooks::check_scope(viewer, hook.instance, &after_events)
            };
            let (_, url, _) = (
                scope,
                check_url(ctx, input.url.as_deref()).await,
                check_selection(ctx, after_selection.as_deref(), &after_events).await,
            )
                .all_valid()?;
            let change = Change {
                url,
                events: chosen,
                selection: match input.selection {
                    MaybeUndefined::Undefined => None,
                    _ => Some(after_selection),
                },
                active: input.active,
            };
            let hook = webhooks::update(db, viewer, id, change).await?;
            Ok(UpdateWebhookPayload {
                webhook: Some(WebhookNode(hook)),
                ..Default::default()
            })
        })
        .await
    }

    /// Deletes one of the viewer's webhooks and its deliveries; deliveries still queued
    /// are not sent.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook to delete.")] input: DeleteWebhookInput,
    ) -> async_graphql::Result<DeleteWebhookPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<WebhookNode>(&input.id)?;
            webhooks::delete(&ctx.state().db, viewer, id).await?;
            Ok(DeleteWebhookPayload {
                deleted_webhook_id: Some(WebhookNode::global_id(id)),
                ..Default::default()
            })
        })
        .await
    }

    /// Queues a PING to one of the viewer's webhooks, to check its receiver and signature
    /// code. The webhook must be active.
    async fn ping_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook to ping.")] input: PingWebhookInput,
    ) -> async_graphql::Result<PingWebhookPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            viewer.require_writer()?;
            limit(ctx, Action::Webhook, None).await?;
            let id = node::decode_as::<WebhookNode>(&input.id)?;
            let delivery = webhooks::ping(&ctx.state().db, &global_id, viewer, id).await?;
            Ok(PingWebhookPayload {
                delivery: Some(WebhookDeliveryNode(delivery)),
                ..Default::default()
            })
        })
        .await
    }

    /// Sends a delivery again: the same body and ID, a new attempt, now. The webhook must
    /// be active (turn a disabled one on first).
    async fn redeliver_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery to send again.")] input: RedeliverWebhookDeliveryInput,
    ) -> async_graphql::Result<RedeliverWebhookDeliveryPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            viewer.require_writer()?;
            limit(ctx, Action::Webhook, None).await?;
            let id = node::decode_field::<WebhookDeliveryNode>(&input.delivery_id, "deliveryId")?;
            let delivery = webhooks::redeliver(&ctx.state().db, viewer, id)
                .await
                .map_err(|e| match e {
                    AppError::NotFound(_) => AppError::NotFound("No such delivery".to_owned()),
                    other => other,
                })?;
            Ok(RedeliverWebhookDeliveryPayload {
                delivery: Some(WebhookDeliveryNode(delivery)),
                ..Default::default()
            })
        })
        .await
    }
}
