use async_graphql::{Context, ID, Object, Subscription};
use futures_util::Stream;

use crate::domain::notifications;
use crate::error::AppError;
use crate::events;
use crate::graphql::context::ContextExt as _;
use crate::graphql::node;
use crate::graphql::types::notifications::{NotificationKind, NotificationNode};

#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks these notifications read; returns how many changed.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Global IDs of the member's notifications (at most 100); others are ignored."
        )]
        ids: Vec<ID>,
    ) -> async_graphql::Result<i32> {
        let viewer = ctx.require_viewer()?;
        if ids.len() > 100 {
            return Err(AppError::bad_input("ids", "at most 100 ids at once").into());
        }
        let uuids = ids
            .iter()
            .map(|id| node::decode_field::<NotificationNode>(id, "ids"))
            .collect::<Result<Vec<_>, _>>()?;
        let changed =
            notifications::mark_read(&ctx.state().db, viewer.user_id, Some(&uuids)).await?;
        Ok(i32::try_from(changed).unwrap_or(i32::MAX))
    }

    /// Marks every notification read; returns how many changed.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let viewer = ctx.require_viewer()?;
        let changed = notifications::mark_read(&ctx.state().db, viewer.user_id, None).await?;
        Ok(i32::try_from(changed).unwrap_or(i32::MAX))
    }

    /// Mutes exactly these kinds (an empty list unmutes everything).
    async fn update_muted_notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The kinds to mute; the others are unmuted.")] muted: Vec<
            NotificationKind,
        >,
    ) -> async_graphql::Result<Vec<NotificationKind>> {
        let viewer = ctx.require_viewer()?;
        let kinds: Vec<_> = muted.into_iter().map(Into::into).collect();
        let saved = notifications::set_muted(&ctx.state().db, viewer.user_id, &kinds).await?;
        Ok(saved.into_iter().map(Into::into).collect())
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
