use async_graphql::{Context, Enum, ID, Object};

use crate::domain::articles::service as articles;
use crate::domain::comments;
use crate::domain::moderation::{self, Resolution, Subject, SubjectType};
use crate::error::AppError;
use crate::events;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{ArticleNode, CommentNode};
use crate::graphql::types::moderation::{ModerationAction, ReportCategory, ReportNode};
use crate::ids::CommentId;
use crate::limits::Action;

/// What a moderator does to an article.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArticleModeration {
    /// Take it down: it leaves every list and its author cannot publish it again.
    #[default]
    Remove,
    /// Undo a takedown: the article is its author's draft again.
    Restore,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// What a moderator does to a comment.
pub enum CommentModeration {
    /// Its text is replaced by a note for everyone but its author and the article's
    /// author.
    Hide,
    /// Shown again.
    Unhide,
    /// Removed; stays in the thread as "[deleted]".
    Delete,
}

fn subject(id: &ID) -> Result<Subject, AppError> {
    match node::decode(id)? {
        (t, id) if t == ArticleNode::TYPE_NAME => Ok(Subject::Article(id.into())),
        (t, id) if t == CommentNode::TYPE_NAME => Ok(Subject::Comment(id.into())),
        (t, id) if t == UserNode::TYPE_NAME => Ok(Subject::User(id.into())),
        _ => Err(AppError::bad_input(
            "subjectId",
            "only articles, comments and members can be reported",
        )),
    }
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Reports an article, a comment or a member to the moderators.
    async fn report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of an article, a comment or a member.")] subject_id: ID,
        #[graphql(desc = "Why it is reported.")] category: ReportCategory,
        #[graphql(desc = "What is wrong (at most 1,000 characters).")] message: Option<String>,
    ) -> async_graphql::Result<ReportNode> {
        let subject = subject(&subject_id)?;
        limit(ctx, Action::Report, None).await?;
        let report = moderation::report(
            &ctx.state().db,
            ctx.require_viewer()?,
            subject,
            category.into(),
            message.as_deref().unwrap_or(""),
        )
        .await?;
        Ok(ReportNode(report))
    }

    /// Resolves a report, and every other open report on the same subject, acting on the
    /// subject: moderators and admins. The action is written to the audit log.
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report's global ID.")] id: ID,
        #[graphql(desc = "What to do to the subject.")] action: ModerationAction,
        #[graphql(desc = "A note for the audit log and the report (at most 500 characters).")]
        note: Option<String>,
    ) -> async_graphql::Result<ReportNode> {
        let id = node::decode_as::<ReportNode>(&id)?;
        let report = moderation::resolve(
            &ctx.state().db,
            ctx.require_viewer()?,
            id,
            action.into(),
            note.as_deref().unwrap_or(""),
        )
        .await?;
        let change = match action {
            ModerationAction::HideComment => Some(events::Change::Hidden),
            ModerationAction::DeleteComment => Some(events::Change::Deleted),
            _ => None,
        };
        if let (Some(change), SubjectType::Comment) = (change, report.subject_type) {
            announce_moderated(ctx, report.subject_id.into(), change).await?;
        }
        Ok(ReportNode(report))
    }

    /// Takes an article down, or restores one taken down, with a reason kept in the audit
    /// log. A removed article is its author's to read, edit or delete, not to publish.
    async fn moderate_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
        #[graphql(desc = "Why, for the audit log and the author (1 to 500 characters).")]
        reason: String,
        #[graphql(default, desc = "REMOVE (the default) or RESTORE.")] action: ArticleModeration,
    ) -> async_graphql::Result<bool> {
        let id = node::decode_as::<ArticleNode>(&id)?;
        let (db, viewer) = (&ctx.state().db, ctx.require_viewer()?);
        match action {
            ArticleModeration::Remove => moderation::unpublish(db, viewer, id, &reason).await?,
            ArticleModeration::Restore => {
                moderation::restore_article(db, viewer, id, &reason).await?;
            }
        }
        Ok(true)
    }

    /// Hides, shows again or deletes a comment, with a reason kept in the audit log.
    async fn moderate_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment's global ID.")] id: ID,
        #[graphql(desc = "Hide, unhide or delete.")] action: CommentModeration,
        #[graphql(desc = "Why, for the audit log (1 to 500 characters).")] reason: String,
    ) -> async_graphql::Result<bool> {
        let id = node::decode_as::<CommentNode>(&id)?;
        let (resolution, change) = match action {
            CommentModeration::Hide => (Resolution::HideComment, events::Change::Hidden),
            CommentModeration::Delete => (Resolution::DeleteComment, events::Change::Deleted),
            CommentModeration::Unhide => (Resolution::NoAction, events::Change::Shown),
        };
        moderation::moderate_comment(
            &ctx.state().db,
            ctx.require_viewer()?,
            id,
            resolution,
            &reason,
        )
        .await?;
        announce_moderated(ctx, id, change).await?;
        Ok(true)
    }

    /// Changes an article's tags, with a reason kept in the audit log.
    async fn moderate_article_tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
        #[graphql(desc = "The new tags: up to 4 of 1 to 30 letters and digits.")] tags: Vec<String>,
        #[graphql(desc = "Why, for the audit log (1 to 500 characters).")] reason: String,
    ) -> async_graphql::Result<ArticleNode> {
        let id = node::decode_as::<ArticleNode>(&id)?;
        let article =
            articles::moderate_tags(&ctx.state().db, ctx.require_viewer()?, id, &tags, &reason)
                .await?;
        Ok(ArticleNode(article))
    }

    /// Suspends a member: they keep reading but cannot write, and see the reason.
    async fn suspend_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's global ID.")] id: ID,
        #[graphql(desc = "Why; the member sees it (1 to 500 characters).")] reason: String,
    ) -> async_graphql::Result<bool> {
        let id = node::decode_as::<UserNode>(&id)?;
        moderation::suspend(&ctx.state().db, ctx.require_viewer()?, id, &reason).await?;
        Ok(true)
    }

    /// Lifts a suspension: the member may write again. Answers true.
    async fn unsuspend_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's global ID.")] id: ID,
        #[graphql(desc = "Why, for the audit log (1 to 500 characters).")] reason: String,
    ) -> async_graphql::Result<bool> {
        let id = node::decode_as::<UserNode>(&id)?;
        moderation::unsuspend(&ctx.state().db, ctx.require_viewer()?, id, &reason).await?;
        Ok(true)
    }
}

/// Tells the thread's subscribers that a moderator changed comment `id`.
async fn announce_moderated(
    ctx: &Context<'_>,
    id: CommentId,
    change: events::Change,
) -> async_graphql::Result<()> {
    if let Some(comment) = comments::find(&ctx.state().db, id).await? {
        crate::graphql::mutation::content::announce_change(ctx, &comment, change).await;
    }
    Ok(())
}
