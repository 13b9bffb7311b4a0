use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::accounts::repo::{ApiKeyRow, SessionRow};
use crate::domain::accounts::{self, User};
use crate::domain::articles::listing;
use crate::domain::follows::{self, Followable};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::Conn;
use crate::graphql::pagination::{IntoConnection as _, PageArgs, PageRequest};
use crate::graphql::types::content::{ArticleNode, TagNode, article_page};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleValue {
    Member,
    Trusted,
    Moderator,
    Admin,
    Suspended,
}

impl From<accounts::Role> for RoleValue {
    fn from(role: accounts::Role) -> Self {
        match role {
            accounts::Role::Member => Self::Member,
            accounts::Role::Trusted => Self::Trusted,
            accounts::Role::Moderator => Self::Moderator,
            accounts::Role::Admin => Self::Admin,
            accounts::Role::Suspended => Self::Suspended,
        }
    }
}

/// A member's public profile.
pub struct UserNode(pub User);

impl NodeType for UserNode {
    const TYPE_NAME: &'static str = "User";
    type Id = crate::ids::UserId;
}

#[Object(name = "User")]
impl UserNode {
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The uploaded profile picture (320 px square); null when there is none.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    async fn bio(&self) -> &str {
        &self.0.bio
    }
    async fn location(&self) -> &str {
        &self.0.location
    }
    async fn website_url(&self) -> Option<&str> {
        self.0.website_url.as_deref()
    }
    async fn github_username(&self) -> Option<&str> {
        self.0.github_username.as_deref()
    }
    async fn twitter_username(&self) -> Option<&str> {
        self.0.twitter_username.as_deref()
    }
    /// Shown as a badge: moderators and admins are named as such.
    async fn role(&self) -> RoleValue {
        self.0.role().into()
    }
    /// The profile page, `/{username}`.
    async fn path(&self) -> String {
        format!("/{}", self.0.username)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Live articles.
    async fn articles_count(&self) -> i32 {
        self.0.articles_count
    }
    async fn followers_count(&self) -> i32 {
        self.0.followers_count
    }
    async fn following_count(&self) -> i32 {
        self.0.following_count
    }
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        crate::graphql::loaders::viewer_follows(ctx, Followable::User(self.0.id)).await
    }
    /// Their live articles, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let filter = listing::Filter {
            author: Some(self.0.id),
            ..Default::default()
        };
        article_page(ctx, &filter, PageArgs::new(first, after, last, before)).await
    }
    /// Members following them, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<UserNode>> {
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows = follows::followers(&ctx.state().db, self.0.id, &page).await?;
        users_page(ctx, page, rows).await
    }
    /// Members they follow, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<UserNode>> {
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows = follows::following(&ctx.state().db, self.0.id, &page).await?;
        users_page(ctx, page, rows).await
    }
    /// Tags they follow, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn followed_tags(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<TagNode>> {
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows = follows::followed_tags(&ctx.state().db, self.0.id, &page).await?;
        let ids: Vec<crate::ids::TagId> = rows.iter().map(|(id, _)| (*id).into()).collect();
        let tags = ctx.loaders().tags.load_many(ids).await?;
        let nodes = rows
            .into_iter()
            .filter_map(|(id, at)| {
                tags.get(&id.into())
                    .cloned()
                    .map(|t| ((at, id), TagNode(t)))
            })
            .collect();
        Ok(page.into_keyed_connection(nodes)?)
    }
}

fn follow_page(
    ctx: &Context<'_>,
    args: PageArgs,
) -> async_graphql::Result<PageRequest<follows::FollowKey>> {
    Ok(ctx.page(args)?)
}

async fn users_page(
    ctx: &Context<'_>,
    page: PageRequest<follows::FollowKey>,
    rows: follows::FollowPage,
) -> async_graphql::Result<Conn<UserNode>> {
    let ids: Vec<crate::ids::UserId> = rows.iter().map(|(id, _)| (*id).into()).collect();
    let users = ctx.loaders().users.load_many(ids).await?;
    let nodes = rows
        .into_iter()
        .filter_map(|(id, at)| {
            users
                .get(&id.into())
                .cloned()
                .map(|u| ((at, id), UserNode(u)))
        })
        .collect();
    Ok(page.into_keyed_connection(nodes)?)
}

/// The signed-in member's own account.
pub struct ViewerNode(pub User);

#[Object(name = "Viewer")]
impl ViewerNode {
    async fn user(&self) -> UserNode {
        UserNode(self.0.clone())
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn email_confirmed(&self) -> bool {
        self.0.email_confirmed_at.is_some()
    }
    /// An address waiting for confirmation after `changeEmail`.
    async fn pending_email(&self) -> Option<&str> {
        self.0.pending_email.as_deref()
    }
    async fn role(&self) -> RoleValue {
        self.0.role().into()
    }
    async fn suspended_reason(&self) -> Option<&str> {
        self.0.suspended_reason.as_deref()
    }
    /// Open sessions, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SessionNode>> {
        let viewer = ctx.require_viewer()?;
        let current = viewer.session_id;
        let rows = accounts::service::sessions(&ctx.state().db, viewer).await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionNode {
                current: Some(row.id) == current,
                row,
            })
            .collect())
    }
    /// Bookmarked live articles, newest bookmark first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn reading_list(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let page = ctx.page::<listing::ArticleKey>(PageArgs::new(first, after, last, before))?;
        let rows = listing::reading_list(&ctx.state().db, self.0.id, &page).await?;
        let nodes = rows
            .into_iter()
            .map(|(a, saved)| ((saved, a.id), ArticleNode(a)))
            .collect();
        Ok(page.into_keyed_connection(nodes)?)
    }
    /// Their own articles, drafts and scheduled ones included, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let filter = listing::Filter {
            author: Some(self.0.id),
            include_unpublished: true,
            ..Default::default()
        };
        article_page(ctx, &filter, PageArgs::new(first, after, last, before)).await
    }
    /// Personal API keys (their secrets are never shown again).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKeyNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = accounts::service::api_keys(&ctx.state().db, viewer).await?;
        Ok(rows.into_iter().map(ApiKeyNode).collect())
    }
}

pub struct SessionNode {
    pub row: SessionRow,
    pub current: bool,
}

impl NodeType for SessionNode {
    const TYPE_NAME: &'static str = "Session";
    type Id = crate::ids::SessionId;
}

#[Object(name = "Session")]
impl SessionNode {
    async fn id(&self) -> ID {
        Self::global_id(self.row.id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.row.last_seen_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    async fn ip(&self) -> Option<&str> {
        self.row.ip.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }
    /// The session this request was made with.
    async fn current(&self) -> bool {
        self.current
    }
}

pub struct ApiKeyNode(pub ApiKeyRow);

impl NodeType for ApiKeyNode {
    const TYPE_NAME: &'static str = "ApiKey";
    type Id = crate::ids::ApiKeyId;
}

#[Object(name = "ApiKey")]
impl ApiKeyNode {
    async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// A new session: the token (also set as an HttpOnly cookie) and its member.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send it as `Authorization: Bearer <token>`; it is shown only now.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserNode,
}

#[derive(SimpleObject)]
pub struct CreatedApiKey {
    /// Send it in the `api-key` header; it is shown only now.
    pub key: String,
    pub api_key: ApiKeyNode,
}
