//! Moderation beyond single items: warnings, comment bans, moderators' notes, locked
//! discussions and tag moderators.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::{moderation, standing, tags};
use crate::graphql::context::ContextExt as _;
use crate::graphql::mutation::moderation::moderator;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node;
use crate::graphql::types::accounts::{UserNode, load_user};
use crate::graphql::types::content::{ArticleNode, TagNode};
use crate::graphql::types::moderation::{ModeratorNoteNode, WarningNode};

mutation_input! {
    /// A member to warn.
    WarnMemberInput {
        /// The member's global ID.
        id: ID,
        /// What they are warned about; they see it (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// A warning given.
    WarnMemberPayload {
        /// The warning.
        warning: Option<WarningNode>,
    }
}

mutation_input! {
    /// A member to ban from commenting, and for how long.
    BanFromCommentingInput {
        /// The member's global ID.
        id: ID,
        /// Why; the member sees it (1 to 500 characters).
        reason: String,
        /// When the ban lifts by itself (in the future, within ten years); left out, it
        /// lasts until a moderator lifts it.
        until: Option<DateTime<Utc>>,
    }
}

mutation_input! {
    /// A member whose comment ban to lift.
    LiftCommentBanInput {
        /// The member's global ID.
        id: ID,
        /// Why, for the log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// A member banned from commenting.
    BanFromCommentingPayload {
        /// The member.
        user: Option<UserNode>,
    }
}

mutation_payload! {
    /// A member who may comment again.
    LiftCommentBanPayload {
        /// The member.
        user: Option<UserNode>,
    }
}

mutation_input! {
    /// A private note on a member, for the other moderators.
    AddModeratorNoteInput {
        /// The member's global ID.
        id: ID,
        /// The note (1 to 2,000 characters).
        body: String,
    }
}

mutation_payload! {
    /// A note written.
    AddModeratorNotePayload {
        /// The note.
        note: Option<ModeratorNoteNode>,
    }
}

mutation_input! {
    /// An article whose discussion to lock.
    LockDiscussionInput {
        /// The article's global ID.
        id: ID,
        /// Why; shown to readers while it is locked, and kept in the public moderation
        /// log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// An article whose discussion was locked.
    LockDiscussionPayload {
        /// The article as it is now.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// An article whose locked discussion to open again.
    UnlockDiscussionInput {
        /// The article's global ID.
        id: ID,
        /// Why, for the public moderation log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// An article whose discussion is open again.
    UnlockDiscussionPayload {
        /// The article as it is now.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// A member to appoint moderator of a tag.
    AppointTagModeratorInput {
        /// The tag's name.
        tag: String,
        /// The member's global ID.
        user_id: ID,
    }
}

mutation_payload! {
    /// A tag with a new moderator.
    AppointTagModeratorPayload {
        /// The tag, with its `moderators`.
        tag: Option<TagNode>,
    }
}

mutation_input! {
    /// A tag moderator to dismiss.
    DismissTagModeratorInput {
        /// The tag's name.
        tag: String,
        /// The member's global ID.
        user_id: ID,
    }
}

mutation_payload! {
    /// A tag with one moderator fewer.
    DismissTagModeratorPayload {
        /// The tag, with its `moderators`.
        tag: Option<TagNode>,
    }
}

#[derive(Default)]
pub struct StandingMutation;

#[Object]
impl StandingMutation {
    /// Warns a member, who sees the warning in `viewer.warnings`: moderators and admins.
    /// Warnings are private, not in the public moderation log.
    async fn warn_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and why.")] input: WarnMemberInput,
    ) -> async_graphql::Result<WarnMemberPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            let warning =
                standing::warn(&ctx.state().db, ctx.require_viewer()?, id, &input.reason).await?;
            Ok(WarnMemberPayload {
                warning: Some(WarningNode(warning)),
                ..Default::default()
            })
        })
        .await
    }

    /// Bans a member from commenting, for a time or until lifted: they still read, write
    /// articles and react, and see the reason and the end. Moderators and admins.
    async fn ban_from_commenting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member, why and until when.")] input: BanFromCommentingInput,
    ) -> async_graphql::Result<BanFromCommentingPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            standing::ban_comments(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                &input.reason,
                input.until,
            )
            .await?;
            Ok(BanFromCommentingPayload {
                user: load_user(ctx, id).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Lifts a comment ban before its end: moderators and admins.
    async fn lift_comment_ban(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and why.")] input: LiftCommentBanInput,
    ) -> async_graphql::Result<LiftCommentBanPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            standing::lift_comment_ban(&ctx.state().db, ctx.require_viewer()?, id, &input.reason)
                .await?;
            Ok(LiftCommentBanPayload {
                user: load_user(ctx, id).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Writes a private note on a member for the other moderators (read through
    /// `memberModeration`): moderators and admins.
    async fn add_moderator_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and the note.")] input: AddModeratorNoteInput,
    ) -> async_graphql::Result<AddModeratorNotePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            let note =
                standing::add_note(&ctx.state().db, ctx.require_viewer()?, id, &input.body).await?;
            Ok(AddModeratorNotePayload {
                note: Some(ModeratorNoteNode(note)),
                ..Default::default()
            })
        })
        .await
    }

    /// Locks an article's discussion: no new comments, the reason shown. Its authors, the
    /// moderators of one of its tags, and moderators.
    async fn lock_discussion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and why.")] input: LockDiscussionInput,
    ) -> async_graphql::Result<LockDiscussionPayload> {
        let client_mutation_id = input.client_mutation_id.clone();
        respond(ctx, client_mutation_id, async {
            Ok(LockDiscussionPayload {
                article: lock(ctx, &input.id, &input.reason, true).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Opens a locked discussion again: whoever may lock it.
    async fn unlock_discussion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and why.")] input: UnlockDiscussionInput,
    ) -> async_graphql::Result<UnlockDiscussionPayload> {
        let client_mutation_id = input.client_mutation_id.clone();
        respond(ctx, client_mutation_id, async {
            Ok(UnlockDiscussionPayload {
                article: lock(ctx, &input.id, &input.reason, false).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Appoints a member moderator of a tag: admins.
    async fn appoint_tag_moderator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tag and the member.")] input: AppointTagModeratorInput,
    ) -> async_graphql::Result<AppointTagModeratorPayload> {
        let client_mutation_id = input.client_mutation_id.clone();
        respond(ctx, client_mutation_id, async {
            Ok(AppointTagModeratorPayload {
                tag: tag_moderator(ctx, &input.tag, &input.user_id, true).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Dismisses a tag moderator: admins.
    async fn dismiss_tag_moderator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tag and the member.")] input: DismissTagModeratorInput,
    ) -> async_graphql::Result<DismissTagModeratorPayload> {
        let client_mutation_id = input.client_mutation_id.clone();
        respond(ctx, client_mutation_id, async {
            Ok(DismissTagModeratorPayload {
                tag: tag_moderator(ctx, &input.tag, &input.user_id, false).await?,
                ..Default::default()
            })
        })
        .await
    }
}

async fn lock(
    ctx: &Context<'_>,
    id: &ID,
    reason: &str,
    locked: bool,
) -> async_graphql::Result<Option<ArticleNode>> {
    let viewer = ctx.require_viewer()?;
    let id = node::decode_as::<ArticleNode>(id)?;
    moderation::lock_discussion(&ctx.state().db, viewer, id, locked, reason).await?;
    Ok(ctx.loaders().articles.load_one(id).await?.map(ArticleNode))
}

async fn tag_moderator(
    ctx: &Context<'_>,
    tag: &str,
    user_id: &ID,
    appoint: bool,
) -> async_graphql::Result<Option<TagNode>> {
    let viewer = ctx.require_viewer()?;
    viewer.require_role(crate::domain::accounts::Role::Admin)?;
    let member = node::decode_field::<UserNode>(user_id, "userId")?;
    let tag = tags::set_moderator(&ctx.state().db, viewer, tag, member, appoint).await?;
    Ok(Some(TagNode(tag)))
}
