//! Edit history: the revisions of articles and comments.

use async_graphql::connection::EmptyFields;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::page::PageArgs;
use crate::domain::revisions::{self, Edited, Revision};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, IntoConnection as _};
use crate::graphql::types::accounts::UserNode;
use crate::ids::RevisionId;

pub struct RevisionNode(pub Revision);

impl NodeType for RevisionNode {
    const TYPE_NAME: &'static str = "Revision";
    type Id = RevisionId;
}

#[Object(name = "Revision")]
/// One edit of an article or a comment: who made it, when, what it changed, and a
/// unified diff of the Markdown before and after.
impl RevisionNode {
    /// The revision's opaque global ID (for `redactRevision`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// Who made the edit; null if their account is gone.
    async fn editor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        match self.0.editor_id {
            Some(id) => Ok(ctx.loaders().users.load_one(id).await?.map(UserNode)),
            None => Ok(None),
        }
    }
    /// What the edit changed: `title`, `body`, `tags`, `cover_image_url`, `canonical_url`.
    async fn fields(&self) -> &[String] {
        &self.0.fields
    }
    /// A unified diff (`--- before`, `+++ after`) of the text before and after the edit:
    /// for an article, its title, tags, cover and canonical URL on lines of their own, then
    /// the body. Cut at 256 KiB with a closing note. Null when an author redacted it,
    /// except to moderators and admins.
    async fn diff(&self, ctx: &Context<'_>) -> Option<&str> {
        (self.0.redacted_at.is_none() || revisions::sees_redacted(ctx.viewer()))
            .then_some(self.0.diff.as_str())
    }
    /// Whether an author redacted the diff.
    async fn redacted(&self) -> bool {
        self.0.redacted_at.is_some()
    }
    /// When the edit was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A page of the revisions of `subject`, newest first, through the request's loader.
pub async fn page(
    ctx: &Context<'_>,
    edited: Edited,
    subject: uuid::Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Conn<RevisionNode, EmptyFields>> {
    let page = ctx.page::<RevisionId>(PageArgs::forward(first, after))?;
    let rows = ctx
        .loaders()
        .revisions
        .load_one((edited, subject, page.after, page.fetch_limit()))
        .await?
        .unwrap_or_default();
    Ok(page.into_connection(rows.into_iter().map(RevisionNode).collect(), |r| r.0.id)?)
}

/// A revision by id, when the viewer may read what it belongs to: an article they see, or
/// a comment whose text they read (moderators read every comment's).
pub async fn visible(
    ctx: &Context<'_>,
    id: RevisionId,
) -> async_graphql::Result<Option<RevisionNode>> {
    let Some((edited, revision)) = revisions::find(&ctx.state().db, id).await? else {
        return Ok(None);
    };
    let readable = match edited {
        Edited::Article => ctx
            .loaders()
            .articles
            .load_one(revision.subject_id.into())
            .await?
            .is_some_and(|a| a.visible_to(ctx.viewer())),
        Edited::Comment => crate::graphql::types::content::CommentNode::on_live_article(
            ctx,
            revision.subject_id.into(),
        )
        .await?
        .is_some_and(|c| {
            c.comment.text_visible_to(ctx.viewer(), c.article_author)
                || revisions::sees_redacted(ctx.viewer())
        }),
    };
    Ok(readable.then_some(RevisionNode(revision)))
}
