//! Organizations, co-authors and the editors' review queue.

use async_graphql::{Context, ID, Object};

use crate::domain::articles::{authors, service as articles};
use crate::domain::organizations::{self, Profile};
use crate::error::AppError;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node;
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::ArticleNode;
use crate::graphql::types::media::ImageNode;
use crate::graphql::types::organizations::{
    OrgRoleValue, OrganizationInvitation, OrganizationMember, OrganizationNode,
};
use crate::limits::Action;

mutation_input! {
    /// A new organization; its founder is its first owner.
    CreateOrganizationInput {
        /// Its name in addresses: 3 to 30 letters, digits or underscores, not taken by a
        /// member or another organization.
        slug: String,
        /// Its display name (1 to 60 characters).
        name: String,
        /// What it is about (at most 500 characters).
        description: Option<String>,
        /// Its website, an http(s) URL.
        url: Option<String>,
    }
}

mutation_payload! {
    /// A new organization.
    CreateOrganizationPayload {
        /// The organization.
        organization: Option<OrganizationNode>,
    }
}

mutation_input! {
    /// Changes to an organization's profile, by an owner; fields left out stay.
    UpdateOrganizationInput {
        /// The organization's global ID.
        id: ID,
        /// Its display name (1 to 60 characters).
        name: Option<String>,
        /// What it is about (at most 500 characters).
        description: Option<String>,
        /// Its website, an http(s) URL; empty clears it.
        url: Option<String>,
        /// An image you uploaded (purpose AVATAR) as its avatar.
        avatar_image_id: Option<ID>,
    }
}

mutation_payload! {
    /// An organization's profile as it is now.
    UpdateOrganizationPayload {
        /// The organization.
        organization: Option<OrganizationNode>,
    }
}

mutation_input! {
    /// A member to invite into an organization, by an owner.
    InviteToOrganizationInput {
        /// The organization's global ID.
        organization_id: ID,
        /// The member's username.
        username: String,
        /// The role they join with (MEMBER when left out).
        role: Option<OrgRoleValue>,
    }
}

mutation_payload! {
    /// An invitation sent.
    InviteToOrganizationPayload {
        /// The invitation, waiting for the member's answer.
        invitation: Option<OrganizationInvitation>,
    }
}

mutation_input! {
    /// An answer to an invitation to join an organization.
    RespondToOrganizationInvitationInput {
        /// The invitation's global ID.
        id: ID,
        /// true joins; false declines.
        accept: bool,
    }
}

mutation_payload! {
    /// An invitation answered.
    RespondToOrganizationInvitationPayload {
        /// The organization.
        organization: Option<OrganizationNode>,
    }
}

mutation_input! {
    /// A member's new role in an organization, set by an owner.
    SetOrganizationRoleInput {
        /// The organization's global ID.
        organization_id: ID,
        /// The member's global ID.
        user_id: ID,
        /// The new role. The last owner cannot be demoted.
        role: OrgRoleValue,
    }
}

mutation_payload! {
    /// A member's role changed.
    SetOrganizationRolePayload {
        /// The membership as it is now.
        member: Option<OrganizationMember>,
    }
}

mutation_input! {
    /// A member to remove from an organization, by an owner.
    RemoveOrganizationMemberInput {
        /// The organization's global ID.
        organization_id: ID,
        /// The member's global ID. The last owner cannot be removed.
        user_id: ID,
    }
}

mutation_payload! {
    /// A member removed.
    RemoveOrganizationMemberPayload {
        /// The organization.
        organization: Option<OrganizationNode>,
    }
}

mutation_input! {
    /// An organization to leave.
    LeaveOrganizationInput {
        /// The organization's global ID. Its last owner cannot leave.
        organization_id: ID,
    }
}

mutation_payload! {
    /// An organization left.
    LeaveOrganizationPayload {
        /// The organization.
        organization: Option<OrganizationNode>,
    }
}

mutation_input! {
    /// A member to invite as co-author of your article.
    InviteCoAuthorInput {
        /// The article's global ID.
        article_id: ID,
        /// The member's username (an article has at most 4 co-authors).
        username: String,
    }
}

mutation_payload! {
    /// A co-author invited.
    InviteCoAuthorPayload {
        /// The article, with its `pendingCoAuthors`.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// An answer to an invitation to co-author an article.
    RespondToCoAuthorshipInput {
        /// The article's global ID.
        article_id: ID,
        /// true becomes a co-author; false declines.
        accept: bool,
    }
}

mutation_payload! {
    /// A co-authorship answered.
    RespondToCoAuthorshipPayload {
        /// The article.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// A co-author (or invitation) to remove: by the article's author, or the co-author.
    RemoveCoAuthorInput {
        /// The article's global ID.
        article_id: ID,
        /// The co-author's global ID.
        user_id: ID,
    }
}

mutation_payload! {
    /// A co-author removed.
    RemoveCoAuthorPayload {
        /// The article.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// An organization's draft to put in its editors' review queue.
    SubmitForReviewInput {
        /// The article's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// A draft submitted for review.
    SubmitForReviewPayload {
        /// The article, with `reviewState` PENDING.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// A submitted draft to send back to its authors, by an editor or owner.
    ReturnArticleInput {
        /// The article's global ID.
        id: ID,
        /// What to change (1 to 500 characters); its authors see it.
        note: String,
    }
}

mutation_payload! {
    /// A draft sent back.
    ReturnArticlePayload {
        /// The article, with `reviewState` RETURNED and its `reviewNote`, when you may still
        /// see it (an editor who is not one of its authors no longer does).
        article: Option<ArticleNode>,
    }
}

async fn load_org(
    ctx: &Context<'_>,
    id: crate::ids::OrganizationId,
) -> async_graphql::Result<Option<OrganizationNode>> {
    Ok(ctx
        .loaders()
        .organizations
        .load_one(id)
        .await?
        .map(OrganizationNode))
}

fn org_id(id: &ID) -> Result<crate::ids::OrganizationId, AppError> {
    node::decode_field::<OrganizationNode>(id, "organizationId")
}

fn article_id(id: &ID) -> Result<crate::ids::ArticleId, AppError> {
    node::decode_field::<ArticleNode>(id, "articleId")
}

#[derive(Default)]
pub struct OrganizationsMutation;

#[Object]
impl OrganizationsMutation {
    /// Founds an organization; you are its first owner.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization's slug, name and profile.")]
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<CreateOrganizationPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit(ctx, Action::ProfileUpdate, None).await?;
            let org = organizations::create(
                &ctx.state().db,
                viewer,
                &input.slug,
                &input.name,
                Profile {
                    description: input.description.clone(),
                    url: input.url.clone(),
                    ..Profile::default()
                },
            )
            .await?;
            Ok(CreateOrganizationPayload {
                organization: Some(OrganizationNode(org)),
                ..Default::default()
            })
        })
        .await
    }

    /// Edits an organization's profile: its owners.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization and what to change.")] input: UpdateOrganizationInput,
    ) -> async_graphql::Result<UpdateOrganizationPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<OrganizationNode>(&input.id)?;
            let avatar_url = match &input.avatar_image_id {
                Some(image) => {
                    let image = node::decode_field::<ImageNode>(image, "avatarImageId")?;
                    let image =
                        crate::domain::media::find_owned(&ctx.state().db, image, viewer.user_id)
                            .await
                            .map_err(|_| {
                                AppError::bad_input("avatarImageId", "no such image of yours")
                            })?;
                    Some(Some(crate::domain::media::avatar_url(&image)))
                }
                None => None,
            };
            let org = organizations::update(
                &ctx.state().db,
                viewer,
                id,
                Profile {
                    name: input.name.clone(),
                    description: input.description.clone(),
                    url: input.url.clone(),
                    avatar_url,
                },
            )
            .await?;
            Ok(UpdateOrganizationPayload {
                organization: Some(OrganizationNode(org)),
                ..Default::default()
            })
        })
        .await
    }

    /// Invites a member into an organization with a role: its owners. The member answers
    /// with `respondToOrganizationInvitation`.
    async fn invite_to_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization, the member and the role.")]
        input: InviteToOrganizationInput,
    ) -> async_graphql::Result<InviteToOrganizationPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let org = org_id(&input.organization_id)?;
            limit(ctx, Action::ProfileUpdate, None).await?;
            let role = input.role.unwrap_or(OrgRoleValue::Member).into();
            let invitation =
                organizations::invite(&ctx.state().db, viewer, org, &input.username, role).await?;
            Ok(InviteToOrganizationPayload {
                invitation: Some(OrganizationInvitation(invitation)),
                ..Default::default()
            })
        })
        .await
    }

    /// Accepts or declines an invitation to join an organization: the invitee.
    async fn respond_to_organization_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation and the answer.")]
        input: RespondToOrganizationInvitationInput,
    ) -> async_graphql::Result<RespondToOrganizationInvitationPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<OrganizationInvitation>(&input.id)?;
            let invitation =
                organizations::respond(&ctx.state().db, viewer, id, input.accept).await?;
            Ok(RespondToOrganizationInvitationPayload {
                organization: load_org(ctx, invitation.organization_id).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Changes a member's role: its owners. An organization keeps at least one owner.
    async fn set_organization_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization, the member and the role.")]
        input: SetOrganizationRoleInput,
    ) -> async_graphql::Result<SetOrganizationRolePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let org = org_id(&input.organization_id)?;
            let member = node::decode_field::<UserNode>(&input.user_id, "userId")?;
            let membership =
                organizations::set_role(&ctx.state().db, viewer, org, member, input.role.into())
                    .await?;
            Ok(SetOrganizationRolePayload {
                member: Some(OrganizationMember(membership)),
                ..Default::default()
            })
        })
        .await
    }

    /// Removes a member from an organization: its owners. Their articles stay with it.
    async fn remove_organization_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization and the member.")] input: RemoveOrganizationMemberInput,
    ) -> async_graphql::Result<RemoveOrganizationMemberPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let org = org_id(&input.organization_id)?;
            let member = node::decode_field::<UserNode>(&input.user_id, "userId")?;
            if member == viewer.user_id {
                return Err(AppError::bad_input("userId", "use leaveOrganization").into());
            }
            organizations::remove(&ctx.state().db, viewer, org, member).await?;
            Ok(RemoveOrganizationMemberPayload {
                organization: load_org(ctx, org).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Leaves an organization; its last owner cannot.
    async fn leave_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization.")] input: LeaveOrganizationInput,
    ) -> async_graphql::Result<LeaveOrganizationPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let org = org_id(&input.organization_id)?;
            organizations::remove(&ctx.state().db, viewer, org, viewer.user_id).await?;
            Ok(LeaveOrganizationPayload {
                organization: load_org(ctx, org).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Invites a member to co-author your article: they appear as an author once they
    /// accept (`respondToCoAuthorship`). At most 4 co-authors.
    async fn invite_co_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the member.")] input: InviteCoAuthorInput,
    ) -> async_graphql::Result<InviteCoAuthorPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = article_id(&input.article_id)?;
            limit(ctx, Action::ProfileUpdate, None).await?;
            let article = authors::invite(&ctx.state().db, viewer, id, &input.username).await?;
            Ok(InviteCoAuthorPayload {
                article: Some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }

    /// Accepts or declines an invitation to co-author an article: the invitee.
    async fn respond_to_co_authorship(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the answer.")] input: RespondToCoAuthorshipInput,
    ) -> async_graphql::Result<RespondToCoAuthorshipPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = article_id(&input.article_id)?;
            let article = authors::respond(&ctx.state().db, viewer, id, input.accept).await?;
            Ok(RespondToCoAuthorshipPayload {
                article: article
                    .visible_to(Some(viewer))
                    .then_some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }

    /// Removes a co-author or an invitation: the article's author, or the co-author
    /// stepping down.
    async fn remove_co_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the co-author.")] input: RemoveCoAuthorInput,
    ) -> async_graphql::Result<RemoveCoAuthorPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = article_id(&input.article_id)?;
            let member = node::decode_field::<UserNode>(&input.user_id, "userId")?;
            let article = authors::remove(&ctx.state().db, viewer, id, member).await?;
            Ok(RemoveCoAuthorPayload {
                article: article
                    .visible_to(Some(viewer))
                    .then_some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }

    /// Puts an organization's draft in its editors' review queue: its authors. Editors
    /// publish it (`publishArticle`) or send it back (`returnArticle`).
    async fn submit_for_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft.")] input: SubmitForReviewInput,
    ) -> async_graphql::Result<SubmitForReviewPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<ArticleNode>(&input.id)?;
            let article = articles::submit_for_review(&ctx.state().db, viewer, id).await?;
            Ok(SubmitForReviewPayload {
                article: Some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }

    /// Sends a submitted draft back to its authors with a note: the organization's editors
    /// and owners.
    async fn return_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and what to change.")] input: ReturnArticleInput,
    ) -> async_graphql::Result<ReturnArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<ArticleNode>(&input.id)?;
            let article =
                articles::return_for_changes(&ctx.state().db, viewer, id, &input.note).await?;
            Ok(ReturnArticlePayload {
                // The editors no longer see a draft they sent back.
                article: article
                    .visible_to(Some(viewer))
                    .then_some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }
}
