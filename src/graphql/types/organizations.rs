//! Organizations, their members and invitations.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::articles::listing;
use crate::domain::follows::Followable;
use crate::domain::organizations::{self, Invitation, Membership, OrgRole, Organization};
use crate::domain::page::PageArgs;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::content::{OrgList, OrgListed};
use crate::graphql::node::NodeType;
use crate::graphql::pagination::Conn;
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{ArticleNode, article_page};

/// A member's role in an organization.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrganizationRole", remote = "organizations::OrgRole")]
pub enum OrgRoleValue {
    /// Writes drafts for the organization and submits them for review.
    Member,
    /// Publishes and edits the organization's articles and answers its review queue.
    Editor,
    /// Everything an editor does, and invites, changes roles, removes members and edits
    /// the profile. An organization keeps at least one.
    Owner,
}

pub struct OrganizationNode(pub Organization);

impl NodeType for OrganizationNode {
    const TYPE_NAME: &'static str = "Organization";
    type Id = crate::ids::OrganizationId;
}

#[Object(name = "Organization")]
/// Members who publish together: articles under its name, a page at `/{slug}`, followers.
impl OrganizationNode {
    /// The organization's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// Its name in addresses (3 to 30 letters, digits or underscores), unique among
    /// members' usernames and organizations' slugs.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// Its display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it is about; may be empty.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Its website.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Its avatar, an image an owner uploaded.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// `/{slug}`: its page.
    async fn path(&self) -> String {
        format!("/{}", self.0.slug)
    }
    /// Members, owners included.
    async fn members_count(&self) -> i32 {
        self.0.members_count
    }
    /// Members following it.
    async fn followers_count(&self) -> i32 {
        self.0.followers_count
    }
    /// Its live articles.
    async fn articles_count(&self) -> i32 {
        self.0.articles_count
    }
    /// When it was founded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The signed-in member's role in it; null when they are not a member.
    async fn viewer_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrgRoleValue>> {
        Ok(ctx
            .loaders()
            .org_roles
            .load_one(self.0.id)
            .await?
            .map(Into::into))
    }
    /// Whether the signed-in member follows it; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        crate::graphql::loaders::viewer_follows(ctx, Followable::Organization(self.0.id)).await
    }
    /// Members following it, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<UserNode>> {
        use crate::graphql::types::accounts::{follow_page, users_page};
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows =
            crate::domain::follows::organization_followers(&ctx.state().db, self.0.id, &page)
                .await?;
        let total = crate::graphql::pagination::Total::known(self.0.followers_count);
        Ok(users_page(ctx, page, rows).await?.counted(total))
    }
    /// Its members with their roles, owners first (at most 500).
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrganizationMember>> {
        match ctx
            .loaders()
            .org_lists
            .load_one((self.0.id, OrgList::Members))
            .await?
        {
            Some(OrgListed::Members(rows)) => {
                Ok(rows.into_iter().map(OrganizationMember).collect())
            }
            _ => Ok(Vec::new()),
        }
    }
    /// Invitations waiting for an answer: its owners only (empty for anyone else).
    async fn invitations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<OrganizationInvitation>> {
        let role = ctx.loaders().org_roles.load_one(self.0.id).await?;
        if role != Some(OrgRole::Owner) {
            return Ok(Vec::new());
        }
        match ctx
            .loaders()
            .org_lists
            .load_one((self.0.id, OrgList::Invitations))
            .await?
        {
            Some(OrgListed::Invitations(rows)) => {
                Ok(rows.into_iter().map(OrganizationInvitation).collect())
            }
            _ => Ok(Vec::new()),
        }
    }
    /// Drafts its members submitted for review, oldest first (at most 100): its editors
    /// and owners only (empty for anyone else). An editor publishes one
    /// (`publishArticle`) or sends it back with a note (`returnArticle`).
    async fn review_queue(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ArticleNode>> {
        let role = ctx.loaders().org_roles.load_one(self.0.id).await?;
        if role < Some(OrgRole::Editor) || ctx.viewer().is_none_or(|v| v.require_writer().is_err())
        {
            return Ok(Vec::new());
        }
        match ctx
            .loaders()
            .org_lists
            .load_one((self.0.id, OrgList::ReviewQueue))
            .await?
        {
            Some(OrgListed::ReviewQueue(rows)) => Ok(rows.into_iter().map(ArticleNode).collect()),
            _ => Ok(Vec::new()),
        }
    }
    /// Its live articles, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let filter = listing::Filter {
            organization: Some(self.0.id),
            ..Default::default()
        };
        let args = PageArgs::new(first, after, last, before);
        article_page(ctx, &filter, args, Some(self.0.articles_count)).await
    }
}

/// A member of an organization, with their role.
pub struct OrganizationMember(pub Membership);

#[Object]
/// A member of an organization, with their role.
impl OrganizationMember {
    /// The member.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .loaders()
            .users
            .load_one(self.0.user_id)
            .await?
            .map(UserNode))
    }
    /// The organization.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        Ok(ctx
            .loaders()
            .organizations
            .load_one(self.0.organization_id)
            .await?
            .map(OrganizationNode))
    }
    /// What they may do in it.
    async fn role(&self) -> OrgRoleValue {
        self.0.role.into()
    }
    /// When they joined.
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An invitation to join an organization.
pub struct OrganizationInvitation(pub Invitation);

impl NodeType for OrganizationInvitation {
    const TYPE_NAME: &'static str = "OrganizationInvitation";
    type Id = crate::ids::InvitationId;
}

#[Object]
/// An invitation to join an organization, which the invitee accepts or declines
/// (`respondToOrganizationInvitation`).
impl OrganizationInvitation {
    /// The invitation's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The organization.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        Ok(ctx
            .loaders()
            .organizations
            .load_one(self.0.organization_id)
            .await?
            .map(OrganizationNode))
    }
    /// The member invited.
    async fn invitee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .loaders()
            .users
            .load_one(self.0.user_id)
            .await?
            .map(UserNode))
    }
    /// The owner who invited them.
    async fn invited_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        match self.0.invited_by {
            Some(id) => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            None => Ok(None),
        }
    }
    /// The role they join with.
    async fn role(&self) -> OrgRoleValue {
        self.0.role.into()
    }
    /// When they were invited.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An invitation by id, for its invitee or the organization's owners.
pub async fn invitation(
    ctx: &Context<'_>,
    id: crate::ids::InvitationId,
) -> async_graphql::Result<Option<OrganizationInvitation>> {
    let Some(viewer) = ctx.viewer() else {
        return Ok(None);
    };
    let Some(found) = organizations::invitation(&ctx.state().db, id).await? else {
        return Ok(None);
    };
    let owner = ctx
        .loaders()
        .org_roles
        .load_one(found.organization_id)
        .await?
        == Some(OrgRole::Owner);
    Ok((found.user_id == viewer.user_id || owner).then_some(OrganizationInvitation(found)))
}
