use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::accounts::repo::{ApiKeyRow, SessionRow};
use crate::domain::accounts::{self, User};
use crate::domain::articles::{listing, series};
use crate::domain::follows::{self, Followable};
use crate::domain::{blocks, notifications};
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::content::Counted;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, Total};
use crate::graphql::pagination::{IntoConnection as _, PageArgs, PageRequest};
use crate::graphql::types::content::{ArticleNode, TagNode, article_page};
use crate::graphql::types::content::{ArticleStatus, SeriesNode};
use crate::graphql::types::media::{ImageNode, image_page};
use crate::graphql::types::notifications::{NotificationKind, NotificationNode, notification_page};
use async_graphql::connection::EmptyFields;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
/// What a member may do: moderators and admins moderate, suspended members only read.
pub enum RoleValue {
    /// A member in good standing: writes, comments, reacts.
    Member,
    /// A member trusted with the privileged reaction categories (those that move a score).
    Trusted,
    /// Resolves reports, hides and removes content, suspends members.
    Moderator,
    /// A moderator who also suspends moderators and reads the audit log.
    Admin,
    /// Signed in but read-only, until a moderator lifts the suspension.
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
/// A member's public profile.
impl UserNode {
    /// The member's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The unique handle: 3 to 30 lowercase letters, digits or underscores; their page is `/{username}`.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The uploaded profile picture (320 px square); null when there is none.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// A short introduction; may be empty.
    async fn bio(&self) -> &str {
        &self.0.bio
    }
    /// Where they are, as they wrote it; may be empty.
    async fn location(&self) -> &str {
        &self.0.location
    }
    /// Their website (http or https); null when none.
    async fn website_url(&self) -> Option<&str> {
        self.0.website_url.as_deref()
    }
    /// Their GitHub login, as they gave it (not verified); null when none.
    async fn github_username(&self) -> Option<&str> {
        self.0.github_username.as_deref()
    }
    /// Their Twitter/X handle, without `@`; null when none.
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
    /// The profile page's absolute URL on this instance.
    async fn url(&self, ctx: &Context<'_>) -> String {
        ctx.absolute_url(&format!("/{}", self.0.username))
    }
    /// When they joined.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Live articles.
    async fn articles_count(&self) -> i32 {
        self.0.articles_count
    }
    /// Members following them.
    async fn followers_count(&self) -> i32 {
        self.0.followers_count
    }
    /// Members they follow.
    async fn following_count(&self) -> i32 {
        self.0.following_count
    }
    /// Whether the signed-in member follows them; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        crate::graphql::loaders::viewer_follows(ctx, Followable::User(self.0.id)).await
    }
    /// Whether the signed-in member blocked them; false when signed out.
    async fn viewer_has_blocked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(crate::graphql::loaders::blocks_between(ctx, self.0.id)
            .await?
            .0)
    }
    /// Their live articles, newest first.
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
            author: Some(self.0.id),
            ..Default::default()
        };
        let args = PageArgs::new(first, after, last, before);
        article_page(ctx, &filter, args, Some(self.0.articles_count)).await
    }
    /// Their series, the newest first: those with a live article (all of them for their
    /// author).
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<SeriesNode>> {
        let page = ctx.page::<series::SeriesKey>(PageArgs::new(first, after, last, before))?;
        let (db, user) = (ctx.state().db.clone(), self.0.id);
        let viewer = ctx.viewer().map(|v| v.user_id);
        let rows = series::of_member(&db, user, viewer, &page).await?;
        let total = Total::later(async move { series::count_of_member(&db, user, viewer).await });
        Ok(page
            .into_connection(rows.into_iter().map(SeriesNode).collect(), |s| {
                (s.0.created_at, s.0.id)
            })?
            .counted(total))
    }
    /// Members following them, newest first.
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
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows = follows::followers(&ctx.state().db, self.0.id, &page).await?;
        let total = Total::known(self.0.followers_count);
        Ok(users_page(ctx, page, rows).await?.counted(total))
    }
    /// Members they follow, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<UserNode>> {
        let page = follow_page(ctx, PageArgs::new(first, after, last, before))?;
        let rows = follows::following(&ctx.state().db, self.0.id, &page).await?;
        let total = Total::known(self.0.following_count);
        Ok(users_page(ctx, page, rows).await?.counted(total))
    }
    /// Tags they follow, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn followed_tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
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
        let counts = ctx.loaders().counts.clone();
        let key = Counted::FollowedTags(self.0.id);
        let total =
            Total::later(async move { counts.load_one(key).await.map(Option::unwrap_or_default) });
        Ok(page.into_keyed_connection(nodes)?.counted(total))
    }
}

pub(crate) fn follow_page(
    ctx: &Context<'_>,
    args: PageArgs,
) -> async_graphql::Result<PageRequest<follows::FollowKey>> {
    Ok(ctx.page(args)?)
}

pub(crate) async fn users_page(
    ctx: &Context<'_>,
    page: PageRequest<follows::FollowKey>,
    rows: follows::FollowPage,
) -> async_graphql::Result<Conn<UserNode, EmptyFields>> {
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
/// The signed-in member's own account: what only they see.
impl ViewerNode {
    /// Their public profile, as others see it.
    async fn user(&self) -> UserNode {
        UserNode(self.0.clone())
    }
    /// The confirmed (or, before the first confirmation, registered) email address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Whether the address has been confirmed; until then a member may write drafts but not publish (when `auth.require_confirmed_email` is on, the default).
    async fn email_confirmed(&self) -> bool {
        self.0.email_confirmed_at.is_some()
    }
    /// An address waiting for confirmation after `changeEmail`.
    async fn pending_email(&self) -> Option<&str> {
        self.0.pending_email.as_deref()
    }
    /// What they may do.
    async fn role(&self) -> RoleValue {
        self.0.role().into()
    }
    /// Why they were suspended (role SUSPENDED); null otherwise.
    async fn suspended_reason(&self) -> Option<&str> {
        self.0.suspended_reason.as_deref()
    }
    /// What the moderators restrict now (a suspension, a comment ban), why and until when.
    async fn standing(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<crate::graphql::types::moderation::StandingNode> {
        let viewer = ctx.require_viewer()?;
        Ok(crate::graphql::types::moderation::StandingNode(
            crate::domain::standing::standing(&ctx.state().db, viewer, self.0.id).await?,
        ))
    }
    /// The organizations they belong to, with their role, earliest joined first.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::organizations::OrganizationMember>> {
        let rows = crate::domain::organizations::memberships_of(&ctx.state().db, self.0.id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::organizations::OrganizationMember)
            .collect())
    }
    /// Invitations to join organizations, waiting for their answer, newest first.
    async fn organization_invitations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::organizations::OrganizationInvitation>>
    {
        let rows = crate::domain::organizations::invitations_of(&ctx.state().db, self.0.id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::organizations::OrganizationInvitation)
            .collect())
    }
    /// Articles they are invited to co-author, newest invitation first (at most 100):
    /// answer with `respondToCoAuthorship`.
    async fn co_author_invitations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::content::ArticleNode>> {
        let rows =
            crate::domain::articles::authors::invitations_of(&ctx.state().db, self.0.id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::content::ArticleNode)
            .collect())
    }
    /// The warnings moderators gave them, newest first (at most 100).
    async fn warnings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::moderation::WarningNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::standing::warnings(&ctx.state().db, viewer, self.0.id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::moderation::WarningNode)
            .collect())
    }
    /// Accounts at outside providers (GitHub) that sign them in, oldest first.
    async fn identities(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::security::IdentityNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = accounts::identities::identities_of(&ctx.state().db, viewer.user_id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::security::IdentityNode)
            .collect())
    }
    /// Their second factor: whether it is on, and the recovery codes left.
    async fn two_factor(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<crate::graphql::types::security::TwoFactor> {
        let viewer = ctx.require_viewer()?;
        Ok(
            accounts::two_factor::status(&ctx.state().db, viewer.user_id)
                .await?
                .into(),
        )
    }
    /// Their data exports, newest first (at most 20).
    async fn data_exports(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::security::DataExportNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::portability::list(&ctx.state().db, viewer.user_id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::security::DataExportNode)
            .collect())
    }
    /// Open sessions, newest first: at most 100, a plain list (a member has few).
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
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let page = ctx.page::<listing::ArticleKey>(PageArgs::new(first, after, last, before))?;
        let rows = listing::reading_list(&ctx.state().db, self.0.id, &page).await?;
        let nodes = rows
            .into_iter()
            .map(|(a, saved)| ((saved, a.id), ArticleNode(a)))
            .collect();
        let (db, user) = (ctx.state().db.clone(), self.0.id);
        let total = Total::later(async move { listing::reading_list_count(&db, user).await });
        Ok(page.into_keyed_connection(nodes)?.counted(total))
    }
    /// Their own articles, drafts and scheduled ones included, newest first (drafts by
    /// when they were created, the others by publication).
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only articles in this state, e.g. DRAFT; all when left out.")]
        status: Option<ArticleStatus>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let filter = listing::Filter {
            author: Some(self.0.id),
            include_unpublished: true,
            status: status.map(Into::into),
            ..Default::default()
        };
        article_page(
            ctx,
            &filter,
            PageArgs::new(first, after, last, before),
            None,
        )
        .await
    }
    /// Their notifications, latest activity first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only unread ones; all when left out.")] unread_only: Option<bool>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<NotificationNode>> {
        let args = PageArgs::new(first, after, last, before);
        notification_page(ctx, self.0.id, unread_only.unwrap_or(false), args).await
    }
    /// How many of their notifications are unread (for a badge).
    async fn unread_notifications_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = notifications::unread_count(&ctx.state().db, self.0.id).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
    /// Where each kind of notification goes (in the app, by email too, or nowhere).
    async fn notification_channels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::notifications::NotificationChannelSetting>>
    {
        let settings = notification_settings(ctx, self.0.id).await?;
        Ok(crate::domain::notification_mail::channels(&settings)
            .into_iter()
            .map(|(kind, channel)| {
                crate::graphql::types::notifications::NotificationChannelSetting {
                    kind: kind.into(),
                    channel: channel.into(),
                }
            })
            .collect())
    }
    /// Whether they get the weekly digest of top articles in what they follow (by email,
    /// Monday at 8 in `timeZone`).
    async fn weekly_digest(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(notification_settings(ctx, self.0.id).await?.weekly_digest)
    }
    /// The IANA time zone their digest is sent in (UTC until they set one).
    async fn time_zone(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(notification_settings(ctx, self.0.id).await?.time_zone)
    }
    /// The kinds of notification they muted: no notification of these kinds is created.
    async fn muted_notifications(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NotificationKind>> {
        let settings = notification_settings(ctx, self.0.id).await?;
        Ok(settings.muted.into_iter().map(Into::into).collect())
    }
    /// The images they uploaded, newest first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ImageNode>> {
        image_page(ctx, self.0.id, PageArgs::new(first, after, last, before)).await
    }
    /// The members they blocked, most recently blocked first.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn blocked_members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<UserNode>> {
        let page = ctx.page::<blocks::BlockKey>(PageArgs::new(first, after, last, before))?;
        let db = ctx.state().db.clone();
        let user = self.0.id;
        let rows = blocks::blocked_page(&db, user, &page).await?;
        let total = Total::later(async move { blocks::blocked_count(&db, user).await });
        Ok(users_page(ctx, page, rows).await?.counted(total))
    }
    /// The feeds the member imports, newest first: at most
    /// `feed_import.max_sources_per_member` (10), a plain list.
    async fn feed_sources(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::imports::FeedSourceNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::imports::list(&ctx.state().db, viewer.user_id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::imports::FeedSourceNode)
            .collect())
    }
    /// The member's webhooks, newest first: at most `webhooks.max_per_member` (20), a
    /// plain list.
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::types::webhooks::WebhookNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::webhooks::list(&ctx.state().db, viewer.user_id).await?;
        Ok(rows
            .into_iter()
            .map(crate::graphql::types::webhooks::WebhookNode)
            .collect())
    }
    /// Personal API keys, newest first (their secrets are never shown again): at most
    /// 100, a plain list (a member has few).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKeyNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = accounts::service::api_keys(&ctx.state().db, viewer).await?;
        Ok(rows.into_iter().map(ApiKeyNode).collect())
    }
}

/// How a session signed in.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// With the password (registering included).
    Password,
    /// Through GitHub.
    Github,
}

/// The second factor a session gave.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from an authenticator app.
    Totp,
    /// A single-use recovery code.
    RecoveryCode,
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
/// A signed-in device or browser: a session token's record (the token itself is never shown again).
impl SessionNode {
    /// The session's opaque global ID (for `revokeSession`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.row.id)
    }
    /// When they signed in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the token was last used (refreshed at most every 5 minutes).
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.row.last_seen_at
    }
    /// When it ends (`auth.session_days` after sign-in); signing out ends it sooner.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    /// The client address it was created from, as the proxy reported it.
    async fn ip(&self) -> Option<&str> {
        self.row.ip.as_deref()
    }
    /// The browser or client that created it.
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }
    /// The session this request was made with.
    async fn current(&self) -> bool {
        self.current
    }
    /// How it signed in: with the password or through a provider.
    async fn method(&self) -> SignInMethod {
        match self.row.method.as_str() {
            "github" => SignInMethod::Github,
            _ => SignInMethod::Password,
        }
    }
    /// The second factor it gave, if one was asked for.
    async fn second_factor(&self) -> Option<SecondFactor> {
        match self.row.second_factor.as_deref() {
            Some("totp") => Some(SecondFactor::Totp),
            Some("recovery_code") => Some(SecondFactor::RecoveryCode),
            _ => None,
        }
    }
}

pub struct ApiKeyNode(pub ApiKeyRow);

impl NodeType for ApiKeyNode {
    const TYPE_NAME: &'static str = "ApiKey";
    type Id = crate::ids::ApiKeyId;
}

#[Object(name = "ApiKey")]
/// A personal API key for scripts and integrations; acts as its member.
impl ApiKeyNode {
    /// The key's opaque global ID (for `revokeApiKey`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// What it is for, as its owner named it.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last authenticated a request (refreshed at most every 5 minutes); null when never.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// The member's notification settings, read once per request for all the fields that
/// show them.
async fn notification_settings(
    ctx: &Context<'_>,
    user: crate::ids::UserId,
) -> async_graphql::Result<notifications::NotificationSettings> {
    Ok(ctx
        .loaders()
        .notification_settings
        .load_one(user)
        .await?
        .unwrap_or_else(|| notifications::NotificationSettings::defaults(user)))
}

/// The signed-in member's account as it is now; null when signed out.
pub async fn load_viewer(ctx: &Context<'_>) -> async_graphql::Result<Option<ViewerNode>> {
    let Some(viewer) = ctx.viewer() else {
        return Ok(None);
    };
    Ok(ctx
        .loaders()
        .users
        .load_one(viewer.user_id)
        .await?
        .map(ViewerNode))
}

/// A member as they are now; null when there is no such member.
pub async fn load_user(
    ctx: &Context<'_>,
    id: crate::ids::UserId,
) -> async_graphql::Result<Option<UserNode>> {
    Ok(ctx.loaders().users.load_one(id).await?.map(UserNode))
}
