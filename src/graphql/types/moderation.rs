use async_graphql::{Context, Enum, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::domain::moderation::{self, AuditEntry, Report, Resolution, SubjectType};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::{self, Node, NodeType};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{ArticleNode, CommentNode, TagNode};

/// Why something was reported.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "moderation::ReportCategory")]
pub enum ReportCategory {
    /// Advertising or automated posting.
    Spam,
    /// Attacks on a person.
    Harassment,
    /// Rude or vulgar, against the code of conduct.
    Rude,
    /// Unlawful content.
    Illegal,
    /// Someone else's work passed off as one's own.
    Plagiarism,
    /// Anything else (explain in the message).
    Other,
}

/// Where a report is in the moderators' queue.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "moderation::ReportStatus")]
pub enum ReportStatus {
    /// Waiting for a moderator.
    Open,
    /// A moderator resolved it, acting on the subject or not (see `action`).
    Resolved,
    /// A moderator found nothing wrong.
    Dismissed,
}

/// What resolving a report does.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "Resolution")]
pub enum ModerationAction {
    /// Nothing was wrong.
    Dismiss,
    /// Handled without touching the subject.
    NoAction,
    /// Taken down (articles): its author cannot publish it again.
    UnpublishArticle,
    /// Shown as hidden (comments).
    HideComment,
    /// Removed, leaving "[deleted]" (comments).
    DeleteComment,
    /// Suspends the member, or the author of the reported article or comment.
    SuspendMember,
}

/// What an audit entry records.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditAction", remote = "moderation::AuditAction")]
pub enum AuditActionValue {
    /// A moderator took an article down.
    ArticleUnpublish,
    /// A moderator restored an article taken down (back to its author's drafts).
    ArticleRestore,
    /// A moderator changed an article's tags (`details`: before and after).
    ArticleRetag,
    /// A comment hidden by a moderator.
    CommentHide,
    /// A comment shown again by a moderator.
    CommentUnhide,
    /// A comment deleted by a moderator.
    CommentDelete,
    /// A member suspended, by a moderator or automatically.
    MemberSuspend,
    /// A suspension lifted.
    MemberUnsuspend,
    /// A member's role changed from the command line.
    MemberRole,
    /// The spam filter flagged an article or a comment.
    SpamFlag,
    /// A moderator edited a tag.
    TagUpdate,
    /// A report resolved (`details.action` says how).
    ReportResolved,
    /// A report dismissed.
    ReportDismissed,
    /// A moderator warned a member (private: not in the public log).
    MemberWarn,
    /// A member banned from commenting (`details.until`: its end, if any).
    CommentBan,
    /// A comment ban lifted, by a moderator or at its end.
    CommentUnban,
    /// An article's discussion locked.
    DiscussionLock,
    /// An article's discussion opened again.
    DiscussionUnlock,
    /// An admin appointed a tag moderator (`details.member`).
    TagModeratorAdd,
    /// An admin dismissed a tag moderator (`details.member`).
    TagModeratorRemove,
}

/// What kind of object a report or an audit entry is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "SubjectType", remote = "SubjectType")]
pub enum SubjectTypeValue {
    /// An article.
    Article,
    /// A comment.
    Comment,
    /// A member.
    User,
    /// A tag.
    Tag,
}

/// The node type of a subject.
fn node_type(subject_type: SubjectType) -> &'static str {
    match subject_type {
        SubjectType::Article => ArticleNode::TYPE_NAME,
        SubjectType::Comment => CommentNode::TYPE_NAME,
        SubjectType::Tag => TagNode::TYPE_NAME,
        SubjectType::User => UserNode::TYPE_NAME,
    }
}

fn subject_id(subject_type: SubjectType, id: uuid::Uuid) -> ID {
    node::encode(node_type(subject_type), id)
}

pub struct ReportNode(pub Report);

impl NodeType for ReportNode {
    const TYPE_NAME: &'static str = "Report";
    type Id = crate::ids::ReportId;
}

/// A report on an article, a comment or a member, and what moderators did about it.
#[Object(name = "Report")]
impl ReportNode {
    /// The report's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// What kind of object was reported: an article, a comment or a member.
    async fn subject_type(&self) -> SubjectTypeValue {
        self.0.subject_type.into()
    }
    /// The reported object's global ID (also valid after it is gone).
    async fn subject_id(&self) -> ID {
        subject_id(self.0.subject_type, self.0.subject_id)
    }
    /// The reported object, while it can still be seen.
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        node::resolve(ctx, node_type(self.0.subject_type), self.0.subject_id).await
    }
    /// Why it was reported.
    async fn category(&self) -> ReportCategory {
        self.0.category.into()
    }
    /// The reporter's explanation (at most 1,000 characters); may be empty.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// Who reported it: null for reports raised by the spam filter, and for a tag moderator.
    async fn reporter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        match self.0.reporter_id {
            Some(id) if instance_moderator(ctx) => {
                Ok(ctx.loaders().users.load_one(id).await?.map(UserNode))
            }
            _ => Ok(None),
        }
    }
    /// Raised by the spam filter rather than a member.
    async fn automatic(&self) -> bool {
        self.0.reporter_id.is_none()
    }
    /// Where it is in the moderators' queue.
    async fn status(&self) -> ReportStatus {
        self.0.status.into()
    }
    /// What the resolving moderator did; null while open.
    async fn action(&self) -> Option<ModerationAction> {
        self.0.action.map(Into::into)
    }
    /// The moderator who resolved it; null while open, and for a tag moderator.
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        if !instance_moderator(ctx) {
            return Ok(None);
        }
        match self.0.resolved_by {
            Some(id) => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            None => Ok(None),
        }
    }
    /// The moderator's note on resolving; null while open.
    async fn resolution_note(&self) -> Option<&str> {
        self.0.resolution_note.as_deref()
    }
    /// When it was resolved; null while open.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// When it was raised.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The reported article's title when it was reported; null for comments and members.
    async fn snapshot_title(&self) -> Option<&str> {
        self.0.snapshot.as_ref().and_then(|s| s.title.as_deref())
    }
    /// The reported article's or comment's Markdown as it was when reported, whatever was
    /// edited since; null for members.
    async fn snapshot_body(&self) -> Option<&str> {
        self.0.snapshot.as_ref().map(|s| s.body.as_str())
    }
}

pub struct AuditEntryNode(pub AuditEntry);

impl NodeType for AuditEntryNode {
    const TYPE_NAME: &'static str = "AuditEntry";
    type Id = crate::ids::AuditEntryId;
}

/// One moderator or automatic action.
#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    /// The entry's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// What was done.
    async fn action(&self) -> AuditActionValue {
        self.0.action.into()
    }
    /// Null when the system acted (spam filter, automatic suspension).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        match self.0.actor_id {
            Some(id) => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            None => Ok(None),
        }
    }
    /// What kind of object was acted on.
    async fn subject_type(&self) -> SubjectTypeValue {
        self.0.subject_type.into()
    }
    /// The global ID of the object acted on.
    async fn subject_id(&self) -> ID {
        subject_id(self.0.subject_type, self.0.subject_id)
    }
    /// The reason the moderator gave (at most 500 characters).
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Action-specific facts as JSON, e.g. the tags before and after, or a spam penalty.
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }
    /// When the action was taken.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One entry of the public moderation log.
pub struct ModlogEntry(pub AuditEntry);

#[Object]
/// A moderation action, as the public moderation log shows it (a moderator's, the
/// system's at the end of a timed sanction, or an author's locking their own discussion):
/// what was done, to what, why and when; who did it unless the instance keeps moderators'
/// names private. Nothing else of the audit log (reports, warnings, notes) is public.
impl ModlogEntry {
    /// What was done.
    async fn action(&self) -> AuditActionValue {
        self.0.action.into()
    }
    /// What kind of object was acted on.
    async fn subject_type(&self) -> SubjectTypeValue {
        self.0.subject_type.into()
    }
    /// The global ID of the object acted on.
    async fn subject_id(&self) -> ID {
        subject_id(self.0.subject_type, self.0.subject_id)
    }
    /// The object acted on, while the reader can still see it (a removed article or a
    /// deleted member is null; a hidden comment shows as hidden).
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        node::resolve(ctx, node_type(self.0.subject_type), self.0.subject_id).await
    }
    /// The reason the moderator gave.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// For a suspension or a comment ban, when it ends; null when it has no end.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .details
            .get("until")
            .and_then(|u| u.as_str())
            .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
            .map(|u| u.with_timezone(&Utc))
    }
    /// Whether the system acted (the end of a timed sanction, the spam filter).
    async fn automatic(&self) -> bool {
        self.0.actor_id.is_none()
    }
    /// Who acted: null when the system did, or when the instance keeps
    /// moderators' names private (`moderation.modlog_names_moderators`), except to
    /// moderators and admins.
    async fn moderator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let named = ctx.state().settings.moderation.modlog_names_moderators
            || ctx.viewer().is_some_and(|v| {
                v.require_role(crate::domain::accounts::Role::Moderator)
                    .is_ok()
            });
        match self.0.actor_id {
            Some(id) if named => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            _ => Ok(None),
        }
    }
    /// When the action was taken.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Where a member stands with the moderators: what they may not do now, why, and until
/// when. A member sees their own; moderators see anyone's.
pub struct StandingNode(pub crate::domain::standing::Standing);

#[Object(name = "MemberStanding")]
/// Where a member stands with the moderators: what they may not do now, why, and until
/// when. A member sees their own; moderators see anyone's.
impl StandingNode {
    /// Suspended: they read but cannot write.
    async fn suspended(&self) -> bool {
        self.0.suspended
    }
    /// Why they were suspended.
    async fn suspended_reason(&self) -> Option<&str> {
        self.0
            .suspended_reason
            .as_deref()
            .filter(|_| self.0.suspended)
    }
    /// When the suspension lifts by itself; null when it has no end (or none is in force).
    async fn suspended_until(&self) -> Option<DateTime<Utc>> {
        self.0.suspended_until.filter(|_| self.0.suspended)
    }
    /// Banned from commenting (they still write articles and react).
    async fn comment_banned(&self) -> bool {
        self.0.comment_banned
    }
    /// Why they were banned from commenting.
    async fn comment_ban_reason(&self) -> Option<&str> {
        self.0
            .comment_ban_reason
            .as_deref()
            .filter(|_| self.0.comment_banned)
    }
    /// When the comment ban lifts by itself; null when it has no end (or none is in force).
    async fn comment_banned_until(&self) -> Option<DateTime<Utc>> {
        self.0.comment_ban_until.filter(|_| self.0.comment_banned)
    }
}

/// A moderator's warning to a member.
pub struct WarningNode(pub crate::domain::standing::Warning);

#[Object(name = "Warning")]
/// A moderator's warning to a member, which the member reads in `viewer.warnings`.
impl WarningNode {
    /// What the member was warned about.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A moderators' private note on a member: never shown to the member or in the public log.
pub struct ModeratorNoteNode(pub crate::domain::standing::ModeratorNote);

#[Object(name = "ModeratorNote")]
/// A moderators' private note on a member: never shown to the member or in the public log.
impl ModeratorNoteNode {
    /// The note (at most 2,000 characters).
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The moderator who wrote it; null if their account is gone.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        match self.0.author_id {
            Some(id) => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            None => Ok(None),
        }
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// What the moderators know of a member: their standing, warnings and private notes.
pub struct MemberModeration {
    pub user: crate::ids::UserId,
}

#[Object]
/// What the moderators know of a member: their standing, warnings and private notes.
impl MemberModeration {
    /// The member.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx.loaders().users.load_one(self.user).await?.map(UserNode))
    }
    /// What they may not do now.
    async fn standing(&self, ctx: &Context<'_>) -> async_graphql::Result<StandingNode> {
        let viewer = ctx.require_viewer()?;
        Ok(StandingNode(
            crate::domain::standing::standing(&ctx.state().db, viewer, self.user).await?,
        ))
    }
    /// The warnings they received, newest first (at most 100).
    async fn warnings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WarningNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::standing::warnings(&ctx.state().db, viewer, self.user).await?;
        Ok(rows.into_iter().map(WarningNode).collect())
    }
    /// The moderators' notes on them, newest first (at most 100).
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ModeratorNoteNode>> {
        let viewer = ctx.require_viewer()?;
        let rows = crate::domain::standing::notes(&ctx.state().db, viewer, self.user).await?;
        Ok(rows.into_iter().map(ModeratorNoteNode).collect())
    }
}

/// Whether the viewer moderates the whole instance (a tag moderator does not learn who
/// reported, nor which moderator resolved).
fn instance_moderator(ctx: &Context<'_>) -> bool {
    ctx.viewer().is_some_and(|v| {
        v.require_role(crate::domain::accounts::Role::Moderator)
            .is_ok()
    })
}
