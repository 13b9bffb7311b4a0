use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::notifications::{self, Notification, NotificationKey, NotificationKind as Kind};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{ArticleNode, CommentNode};
use crate::ids::UserId;

/// What a notification is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "notifications::NotificationKind")]
pub enum NotificationKind {
    /// A comment on your article.
    Comment,
    /// A reply to your comment.
    Reply,
    /// A comment that mentions you.
    Mention,
    /// Reactions on your article or comment (grouped per item per day).
    Reaction,
    /// New followers (grouped per day).
    Follower,
}

/// Where notifications of a kind go.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::notification_mail::Channel")]
pub enum NotificationChannel {
    /// Nowhere: none are created (the kind is muted).
    Off,
    /// In the app (the notifications list and `notificationReceived`).
    InApp,
    /// In the app, and by email when not read there within ten minutes (several in that
    /// time make one message). Comments, replies and mentions only.
    InAppAndEmail,
}

/// The channel of one kind of notification.
#[derive(async_graphql::SimpleObject)]
pub struct NotificationChannelSetting {
    /// The kind.
    pub kind: NotificationKind,
    /// Where it goes.
    pub channel: NotificationChannel,
}

/// How much a member hears of one article's comments.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "notifications::ThreadLevel")]
pub enum ThreadSubscriptionLevel {
    /// Every comment (authors start here).
    All,
    /// Replies to their comments, and mentions (commenters start here; anyone else's
    /// level until they choose).
    RepliesAndMentions,
    /// Nothing from this thread, not even replies and mentions.
    Muted,
}

/// The most actors a notification names.
const SHOWN_ACTORS: usize = 5;

pub struct NotificationNode(pub Notification);

impl NodeType for NotificationNode {
    const TYPE_NAME: &'static str = "Notification";
    type Id = crate::ids::NotificationId;
}

#[Object(name = "Notification")]
/// Something that happened to the signed-in member's content or account; similar events are grouped into one notification.
impl NotificationNode {
    /// The notification's opaque global ID (for `markNotificationsRead`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// What happened.
    async fn kind(&self) -> NotificationKind {
        self.0.kind.into()
    }
    /// The latest members behind it (at most five), newest first.
    async fn actors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UserNode>> {
        let ids: Vec<crate::ids::UserId> = self
            .0
            .actor_ids
            .iter()
            .take(SHOWN_ACTORS)
            .copied()
            .collect();
        let users = ctx.loaders().users.load_many(ids.clone()).await?;
        Ok(ids
            .iter()
            .filter_map(|id| users.get(id).cloned().map(UserNode))
            .collect())
    }
    /// How many members are behind it (all of them, not only the five in `actors`).
    async fn actors_count(&self) -> i32 {
        i32::try_from(self.0.actor_ids.len()).unwrap_or(i32::MAX)
    }
    /// "Ada and 4 others reacted to your article".
    async fn message(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let first = match self.0.actor_ids.first() {
            Some(id) => ctx.loaders().users.load_one(*id).await?.map(|u| u.username),
            None => None,
        };
        let who = first.unwrap_or_else(|| "Someone".to_owned());
        let others = self.0.actor_ids.len().saturating_sub(1);
        let who = match others {
            0 => who,
            1 => format!("{who} and 1 other"),
            n => format!("{who} and {n} others"),
        };
        let what = match self.0.kind {
            Kind::Comment => "commented on your article",
            Kind::Reply => "replied to your comment",
            Kind::Mention => "mentioned you",
            Kind::Reaction if self.0.comment_id.is_some() => "reacted to your comment",
            Kind::Reaction => "reacted to your article",
            Kind::Follower => "followed you",
        };
        Ok(format!("{who} {what}"))
    }
    /// The article it is about, while it is live; null otherwise.
    async fn article(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ArticleNode>> {
        let Some(id) = self.0.article_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()
            .articles
            .load_one(id)
            .await?
            .filter(|a| a.is_live())
            .map(ArticleNode))
    }
    /// The comment it is about, while it can be seen; null otherwise.
    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CommentNode>> {
        let Some(id) = self.0.comment_id else {
            return Ok(None);
        };
        CommentNode::on_live_article(ctx, id).await
    }
    /// Whether the member has marked it read.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    /// When it was created (a grouped notification keeps its first time; the list is
    /// ordered by its latest activity).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last grew (a new actor joined the group).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A page of `user`'s notifications, latest activity first, only the unread ones when
/// `unread_only`.
pub async fn notification_page(
    ctx: &Context<'_>,
    user: UserId,
    unread_only: bool,
    args: PageArgs,
) -> async_graphql::Result<Conn<NotificationNode>> {
    let page = ctx.page::<NotificationKey>(args)?;
    let db = ctx.state().db.clone();
    let rows = notifications::list(&db, user, unread_only, &page).await?;
    let total = Total::later(async move { notifications::count(&db, user, unread_only).await });
    Ok(page
        .into_connection(rows.into_iter().map(NotificationNode).collect(), |n| {
            (n.0.updated_at, n.0.id)
        })?
        .counted(total))
}
