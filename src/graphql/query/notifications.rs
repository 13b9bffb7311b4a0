use async_graphql::{Context, ID, Object, Subscription};
use futures_util::Stream;

use crate::domain::notifications;
use crate::error::{AppError, Problem};
use crate::events;
use crate::graphql::context::ContextExt as _;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node;
use crate::graphql::types::accounts::{ViewerNode, load_viewer};
use crate::graphql::types::notifications::{NotificationKind, NotificationNode};

mutation_input! {
    /// Notifications of yours to mark read.
    MarkNotificationsReadInput {
        /// Global IDs of the member's notifications (at most 100); others are ignored.
        ids: Vec<ID>,
    }
}

mutation_payload! {
    /// Notifications marked read.
    MarkNotificationsReadPayload {
        /// The notifications named, as they are now (those of the member only).
        notifications: Option<Vec<NotificationNode>>,
        /// How many were unread before.
        marked_count: Option<i32>,
        /// The signed-in member's account, with `unreadNotificationsCount` as it is now.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// Nothing to fill in but `clientMutationId`: every notification is marked read.
    #[derive(Default)]
    MarkAllNotificationsReadInput {}
}

mutation_payload! {
    /// Every notification marked read.
    MarkAllNotificationsReadPayload {
        /// How many were unread before.
        marked_count: Option<i32>,
        /// The signed-in member's account, with `unreadNotificationsCount` as it is now.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// The notification kinds to mute.
    UpdateMutedNotificationsInput {
        /// The kinds to mute; the others are unmuted. An empty list unmutes everything.
        muted: Vec<NotificationKind>,
    }
}

mutation_payload! {
    /// The muted kinds as saved.
    UpdateMutedNotificationsPayload {
        /// The kinds muted now.
        muted: Option<Vec<NotificationKind>>,
        /// The signed-in member's account, with `mutedNotifications` as it is now.
        viewer: Option<ViewerNode>,
    }
}

#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks these notifications read.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notifications to mark read.")] input: MarkNotificationsReadInput,
    ) -> async_graphql::Result<MarkNotificationsReadPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            if input.ids.len() > 100 {
                return Err(
                    AppError::invalid("ids", Problem::TooLong, "at most 100 ids at once").into(),
                );
            }
            let uuids = input
                .ids
                .iter()
                .map(|id| node::decode_field::<NotificationNode>(id, "ids"))
                .collect::<Result<Vec<_>, _>>()?;
            let changed =
                notifications::mark_read(&ctx.state().db, viewer.user_id, Some(&uuids)).await?;
            let found = ctx
                .loaders()
                .notifications
                .load_many(uuids.iter().copied())
                .await?;
            // In the order named; those of other members are not found.
            let notifications = uuids
                .iter()
                .filter_map(|id| found.get(id).cloned().map(NotificationNode))
                .collect();
            Ok(MarkNotificationsReadPayload {
                notifications: Some(notifications),
                marked_count: Some(i32::try_from(changed).unwrap_or(i32::MAX)),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Marks every notification read.
    async fn mark_all_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")]
        input: MarkAllNotificationsReadInput,
    ) -> async_graphql::Result<MarkAllNotificationsReadPayload> {
        respond(ctx, input.client_mutation_id, async {
            let viewer = ctx.require_viewer()?;
            let changed = notifications::mark_read(&ctx.state().db, viewer.user_id, None).await?;
            Ok(MarkAllNotificationsReadPayload {
                marked_count: Some(i32::try_from(changed).unwrap_or(i32::MAX)),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Mutes exactly these kinds (an empty list unmutes everything).
    async fn update_muted_notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The kinds to mute.")] input: UpdateMutedNotificationsInput,
    ) -> async_graphql::Result<UpdateMutedNotificationsPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let kinds: Vec<_> = input.muted.iter().copied().map(Into::into).collect();
            let saved = notifications::set_muted(&ctx.state().db, viewer.user_id, &kinds).await?;
            Ok(UpdateMutedNotificationsPayload {
                muted: Some(saved.into_iter().map(Into::into).collect()),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }
}

#[derive(Default)]
pub struct NotificationsSubscription;

#[Subscription]
impl NotificationsSubscription {
    /// The signed-in member's notifications as they are created or grow.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = NotificationNode> + use<>> {
        let user = ctx.require_viewer()?.user_id;
        let state = ctx.state().clone();
        let rx = state.pubsub.subscribe(&events::notifications(user));
        Ok(futures_util::stream::unfold(rx, move |mut rx| {
            let state = state.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(_) => {
                            if let Ok(Some(n)) = notifications::latest(&state.db, user).await {
                                return Some((NotificationNode(n), rx));
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(lost)) => {
                            state.pubsub.count_lost(lost);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        }))
    }
}
