use async_graphql::{Context, ID, Object};

use crate::domain::{notification_mail, notifications};
use crate::graphql::context::ContextExt as _;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node;
use crate::graphql::types::accounts::{ViewerNode, load_viewer};
use crate::graphql::types::content::ArticleNode;
use crate::graphql::types::notifications::{
    NotificationChannel, NotificationKind, ThreadSubscriptionLevel,
};

mutation_input! {
    /// Where one kind of notification goes.
    UpdateNotificationChannelInput {
        /// The kind.
        kind: NotificationKind,
        /// OFF, IN_APP, or IN_APP_AND_EMAIL (comments, replies and mentions only).
        channel: NotificationChannel,
    }
}

mutation_payload! {
    /// The channels as saved.
    UpdateNotificationChannelPayload {
        /// The signed-in member, with `notificationChannels` and `mutedNotifications` as
        /// they are now.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// The weekly digest.
    UpdateEmailDigestInput {
        /// Send it (Monday at 8 in `timeZone`) or not.
        weekly: bool,
        /// An IANA time zone name, e.g. `Europe/Paris`; left out, it stays as it is (UTC
        /// at first).
        time_zone: Option<String>,
    }
}

mutation_payload! {
    /// The digest settings as saved.
    UpdateEmailDigestPayload {
        /// The signed-in member, with `weeklyDigest` and `timeZone` as they are now.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// How much to hear of one article's comments.
    SetThreadSubscriptionInput {
        /// The article's global ID.
        article_id: ID,
        /// ALL, REPLIES_AND_MENTIONS or MUTED.
        level: ThreadSubscriptionLevel,
    }
}

mutation_payload! {
    /// The level as saved.
    SetThreadSubscriptionPayload {
        /// The article, with `viewerSubscription` as it is now.
        article: Option<ArticleNode>,
    }
}

#[derive(Default)]
pub struct NotificationMailMutation;

#[Object]
impl NotificationMailMutation {
    /// Sets where one kind of notification goes. OFF is what `updateMutedNotifications`
    /// calls muted.
    async fn update_notification_channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The kind and its channel.")] input: UpdateNotificationChannelInput,
    ) -> async_graphql::Result<UpdateNotificationChannelPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            notification_mail::set_channel(
                &ctx.state().db,
                viewer.user_id,
                input.kind.into(),
                input.channel.into(),
            )
            .await?;
            Ok(UpdateNotificationChannelPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Turns the weekly digest on or off, and sets the time zone it is sent in.
    async fn update_email_digest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The digest settings.")] input: UpdateEmailDigestInput,
    ) -> async_graphql::Result<UpdateEmailDigestPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            notification_mail::set_digest(
                &ctx.state().db,
                viewer.user_id,
                input.weekly,
                input.time_zone.as_deref(),
            )
            .await?;
            Ok(UpdateEmailDigestPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Sets how much the signed-in member hears of an article's comments: every comment,
    /// replies and mentions only, or nothing. NOT_FOUND for an article they cannot see.
    async fn set_thread_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the level.")] input: SetThreadSubscriptionInput,
    ) -> async_graphql::Result<SetThreadSubscriptionPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_field::<ArticleNode>(&input.article_id, "articleId")?;
            let article = ctx
                .loaders()
                .articles
                .load_one(id)
                .await?
                .filter(|a| a.visible_to(Some(viewer)))
                .ok_or_else(|| crate::error::AppError::NotFound("No such article".to_owned()))?;
            let mut conn = ctx
                .state()
                .db
                .acquire()
                .await
                .map_err(crate::error::AppError::from)?;
            notifications::subscribe(
                &mut conn,
                viewer.user_id,
                article.id,
                input.level.into(),
                false,
            )
            .await?;
            Ok(SetThreadSubscriptionPayload {
                article: Some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }
}
