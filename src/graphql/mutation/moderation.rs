use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::accounts::Role;
use crate::domain::articles::service as articles;
use crate::domain::comments;
use crate::domain::moderation::{self, Resolution, Subject, SubjectType};
use crate::error::{AppError, AppResult};
use crate::events;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::{UserNode, load_user};
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
    let only = || {
        AppError::bad_input(
            "subjectId",
            "only articles, comments and members can be reported",
        )
    };
    match node::decode(id).map_err(|_| only())? {
        (t, id) if t == ArticleNode::TYPE_NAME => Ok(Subject::Article(id.into())),
        (t, id) if t == CommentNode::TYPE_NAME => Ok(Subject::Comment(id.into())),
        (t, id) if t == UserNode::TYPE_NAME => Ok(Subject::User(id.into())),
        _ => Err(only()),
    }
}

mutation_input! {
    /// A report to the moderators.
    ReportInput {
        /// The global ID of an article, a comment or a member.
        subject_id: ID,
        /// Why it is reported.
        category: ReportCategory,
        /// What is wrong (at most 1,000 characters).
        message: Option<String>,
    }
}

mutation_payload! {
    /// A filed report.
    ReportPayload {
        /// The report, as the moderators see it.
        report: Option<ReportNode>,
    }
}

mutation_input! {
    /// A report to resolve, and what to do to its subject.
    ResolveReportInput {
        /// The report's global ID.
        id: ID,
        /// What to do to the subject.
        action: ModerationAction,
        /// A note for the report, and the reason the public moderation log shows for an action taken (at most 500 characters).
        note: Option<String>,
    }
}

mutation_payload! {
    /// A resolved report.
    ResolveReportPayload {
        /// The report as it is now; its `subject` shows what the action did.
        report: Option<ReportNode>,
    }
}

mutation_input! {
    /// An article to take down or restore.
    ModerateArticleInput {
        /// The article's global ID.
        id: ID,
        /// Why, for the author and the public moderation log (1 to 500 characters).
        reason: String,
        /// REMOVE (the default) or RESTORE.
        #[graphql(default)]
        action: ArticleModeration,
    }
}

mutation_payload! {
    /// An article taken down or restored.
    ModerateArticlePayload {
        /// The article as it is now.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// A comment to hide, show again or delete.
    ModerateCommentInput {
        /// The comment's global ID.
        id: ID,
        /// Hide, unhide or delete.
        action: CommentModeration,
        /// Why, shown in the public moderation log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// A moderated comment.
    ModerateCommentPayload {
        /// The comment as it is now.
        comment: Option<CommentNode>,
    }
}

mutation_input! {
    /// New tags for an article.
    ModerateArticleTagsInput {
        /// The article's global ID.
        id: ID,
        /// The new tags: up to 4 of 1 to 30 letters and digits.
        tags: Vec<String>,
        /// Why, shown in the public moderation log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// An article with the tags a moderator gave it.
    ModerateArticleTagsPayload {
        /// The article as it is now.
        article: Option<ArticleNode>,
    }
}

mutation_input! {
    /// A member to suspend, and for how long.
    SuspendMemberInput {
        /// The member's global ID.
        id: ID,
        /// Why; the member sees it (1 to 500 characters).
        reason: String,
        /// When the suspension lifts by itself (in the future, within ten years); left
        /// out, it lasts until a moderator lifts it. The member sees it.
        until: Option<DateTime<Utc>>,
    }
}

mutation_input! {
    /// A suspended member to let write again.
    UnsuspendMemberInput {
        /// The member's global ID.
        id: ID,
        /// Why, shown in the public moderation log (1 to 500 characters).
        reason: String,
    }
}

mutation_payload! {
    /// A suspended member.
    SuspendMemberPayload {
        /// The member as they are now.
        user: Option<UserNode>,
    }
}

mutation_payload! {
    /// A member who may write again.
    UnsuspendMemberPayload {
        /// The member as they are now.
        user: Option<UserNode>,
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
        #[graphql(desc = "What is reported, and why.")] input: ReportInput,
    ) -> async_graphql::Result<ReportPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let subject = subject(&input.subject_id)?;
            limit(ctx, Action::Report, None).await?;
            let report = moderation::report(
                &ctx.state().db,
                ctx.require_viewer()?,
                subject,
                input.category.into(),
                input.message.as_deref().unwrap_or(""),
            )
            .await?;
            Ok(ReportPayload {
                report: Some(ReportNode(report)),
                ..Default::default()
            })
        })
        .await
    }

    /// Resolves a report, and every other open report on the same subject, acting on the
    /// subject: moderators and admins; a tag moderator, on reports in their tags, may
    /// dismiss, take no action or hide a comment. The action is written to the audit log.
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report and the action.")] input: ResolveReportInput,
    ) -> async_graphql::Result<ResolveReportPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            ctx.require_viewer()?.require_writer()?;
            let id = node::decode_as::<ReportNode>(&input.id)?;
            let report = moderation::resolve(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                input.action.into(),
                input.note.as_deref().unwrap_or(""),
            )
            .await?;
            let change = match input.action {
                ModerationAction::HideComment => Some(events::Change::Hidden),
                ModerationAction::DeleteComment => Some(events::Change::Deleted),
                _ => None,
            };
            if let (Some(change), SubjectType::Comment) = (change, report.subject_type) {
                announce_moderated(ctx, report.subject_id.into(), change).await?;
            }
            Ok(ResolveReportPayload {
                report: Some(ReportNode(report)),
                ..Default::default()
            })
        })
        .await
    }

    /// Takes an article down, or restores one taken down, with a reason kept in the audit
    /// log. A removed article is its author's to read, edit or delete, not to publish.
    async fn moderate_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article, the action and why.")] input: ModerateArticleInput,
    ) -> async_graphql::Result<ModerateArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<ArticleNode>(&input.id)?;
            let (db, viewer) = (&ctx.state().db, ctx.require_viewer()?);
            match input.action {
                ArticleModeration::Remove => {
                    moderation::unpublish(db, viewer, id, &input.reason).await?;
                }
                ArticleModeration::Restore => {
                    moderation::restore_article(db, viewer, id, &input.reason).await?;
                }
            }
            Ok(ModerateArticlePayload {
                article: ctx.loaders().articles.load_one(id).await?.map(ArticleNode),
                ..Default::default()
            })
        })
        .await
    }

    /// Hides, shows again or deletes a comment, with a reason kept in the audit log:
    /// moderators; a moderator of one of the article's tags hides and shows.
    async fn moderate_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment, the action and why.")] input: ModerateCommentInput,
    ) -> async_graphql::Result<ModerateCommentPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            ctx.require_viewer()?.require_writer()?;
            let id = node::decode_as::<CommentNode>(&input.id)?;
            let (resolution, change) = match input.action {
                CommentModeration::Hide => (Resolution::HideComment, events::Change::Hidden),
                CommentModeration::Delete => (Resolution::DeleteComment, events::Change::Deleted),
                CommentModeration::Unhide => (Resolution::NoAction, events::Change::Shown),
            };
            moderation::moderate_comment(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                resolution,
                &input.reason,
            )
            .await?;
            let comment = announce_moderated(ctx, id, change).await?;
            Ok(ModerateCommentPayload {
                comment,
                ..Default::default()
            })
        })
        .await
    }

    /// Changes an article's tags, with a reason kept in the audit log: moderators, and
    /// the moderators of one of the tags the article has.
    async fn moderate_article_tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article, its new tags and why.")] input: ModerateArticleTagsInput,
    ) -> async_graphql::Result<ModerateArticleTagsPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            ctx.require_viewer()?.require_writer()?;
            let id = node::decode_as::<ArticleNode>(&input.id)?;
            let article = articles::moderate_tags(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                &input.tags,
                &input.reason,
            )
            .await?;
            Ok(ModerateArticleTagsPayload {
                article: Some(ArticleNode(article)),
                ..Default::default()
            })
        })
        .await
    }

    /// Suspends a member, for a time or until lifted: they keep reading but cannot write,
    /// and see the reason and the end.
    async fn suspend_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and why.")] input: SuspendMemberInput,
    ) -> async_graphql::Result<SuspendMemberPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            moderation::suspend(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                &input.reason,
                input.until,
            )
            .await?;
            Ok(SuspendMemberPayload {
                user: load_user(ctx, id).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Lifts a suspension: the member may write again.
    async fn unsuspend_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and why.")] input: UnsuspendMemberInput,
    ) -> async_graphql::Result<UnsuspendMemberPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            moderator(ctx)?;
            let id = node::decode_as::<UserNode>(&input.id)?;
            moderation::unsuspend(&ctx.state().db, ctx.require_viewer()?, id, &input.reason)
                .await?;
            Ok(UnsuspendMemberPayload {
                user: load_user(ctx, id).await?,
                ..Default::default()
            })
        })
        .await
    }
}

/// UNAUTHENTICATED or FORBIDDEN unless a moderator or admin asks: checked before the
/// input, so others learn nothing from input errors.
pub(crate) fn moderator(ctx: &Context<'_>) -> AppResult<()> {
    ctx.require_viewer()?.require_role(Role::Moderator)
}

/// Tells the thread's subscribers that a moderator changed comment `id`; answers with the
/// comment as it is now.
async fn announce_moderated(
    ctx: &Context<'_>,
    id: CommentId,
    change: events::Change,
) -> async_graphql::Result<Option<CommentNode>> {
    let Some(comment) = comments::find(&ctx.state().db, id).await? else {
        return Ok(None);
    };
    crate::graphql::mutation::content::announce_change(ctx, &comment, change).await;
    let (node, _) = crate::graphql::mutation::content::comment_and_article(ctx, comment).await?;
    Ok(Some(node))
}
