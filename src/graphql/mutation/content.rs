use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::articles::series;
use crate::domain::articles::service::{self, ArticleInput};
use crate::domain::follows::{self, Followable};
use crate::domain::reactions::{self, Reactable};
use crate::domain::{blocks, comments, tags};
use crate::error::AppError;
use crate::events;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{
    ArticleNode, CommentNode, ReactionCount, SeriesNode, TagNode,
};
use crate::graphql::types::media::ImageNode;
use crate::limits::Action;

/// An article's fields. On create, `title` (here or in the front matter) is required;
/// on update, fields left out keep their value. A field here wins over the front matter.
#[derive(InputObject, Default)]
pub struct ArticleFields {
    /// The title (1 to 128 characters).
    pub title: Option<String>,
    /// Markdown, optionally opening with Forem-style YAML front matter.
    pub body_markdown: Option<String>,
    /// Up to 4 tags of 1 to 30 letters and digits.
    pub tags: Option<Vec<String>>,
    /// true publishes (now, or at `publishedAt`); false keeps or makes it a draft.
    pub published: Option<bool>,
    /// An http(s) URL on a public host; empty clears it.
    pub cover_image_url: Option<String>,
    /// An image you uploaded (with purpose COVER, for its 1000x420 copy); wins over
    /// `coverImageUrl`.
    pub cover_image_id: Option<ID>,
    /// Where it was first published (an http(s) URL on a public host); empty clears it.
    pub canonical_url: Option<String>,
    /// A summary for cards and link previews (at most 300 characters).
    pub description: Option<String>,
    /// A series title of the author's; empty takes the article out of its series.
    pub series: Option<String>,
    /// A future time schedules the article. Fixed once it has been published.
    pub published_at: Option<DateTime<Utc>>,
}

impl TryFrom<ArticleFields> for ArticleInput {
    type Error = AppError;

    fn try_from(f: ArticleFields) -> Result<Self, AppError> {
        let cover_image_id = f
            .cover_image_id
            .as_ref()
            .map(node::decode_as::<ImageNode>)
            .transpose()?;
        Ok(Self {
            cover_image_id,
            title: f.title,
            body_markdown: f.body_markdown,
            tags: f.tags,
            published: f.published,
            cover_image_url: f.cover_image_url,
            canonical_url: f.canonical_url,
            description: f.description,
            series: f.series,
            published_at: f.published_at,
        })
    }
}

#[derive(SimpleObject)]
/// The state of one reaction after `toggleReaction`.
pub struct ReactionResult {
    /// Whether the viewer's reaction is now on.
    pub reacted: bool,
    /// The category toggled.
    pub category: String,
    /// The item's public reactions per category, after the change.
    pub reaction_counts: Vec<ReactionCount>,
}

/// Tells subscribers about an article that just went live.
async fn announce(ctx: &Context<'_>, saved: service::Saved) -> ArticleNode {
    if saved.went_live {
        events::publish(&ctx.state().pubsub, events::ARTICLES, saved.article.id).await;
    }
    ArticleNode(saved.article)
}

fn article_id(id: &ID) -> async_graphql::Result<crate::ids::ArticleId> {
    Ok(node::decode_as::<ArticleNode>(id)?)
}

fn comment_id(id: &ID) -> async_graphql::Result<crate::ids::CommentId> {
    Ok(node::decode_as::<CommentNode>(id)?)
}

/// Tells the article's thread subscribers that `comment` changed.
pub(crate) async fn announce_change(
    ctx: &Context<'_>,
    comment: &comments::Comment,
    change: events::Change,
) {
    let channel = events::comments(comment.article_id);
    events::publish_change(&ctx.state().pubsub, &channel, comment.id, change).await;
}

async fn comment_node(
    ctx: &Context<'_>,
    comment: comments::Comment,
) -> async_graphql::Result<CommentNode> {
    let article = ctx
        .loaders()
        .articles
        .load_one(comment.article_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such article".to_owned()))?;
    Ok(CommentNode {
        comment,
        thread: None,
        article_author: article.user_id,
    })
}

#[derive(Default)]
pub struct ContentMutation;

#[Object]
impl ContentMutation {
    /// Writes an article: a draft unless `published` is true. Returns it.
    async fn create_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's fields; `title` is required here or in the front matter.")]
        input: ArticleFields,
    ) -> async_graphql::Result<ArticleNode> {
        let young = (input.published == Some(true)).then_some(Action::NewMemberArticle);
        limit(ctx, Action::ArticleCreate, young).await?;
        let state = ctx.state();
        let article = service::create(
            &state.db,
            &state.settings,
            ctx.require_viewer()?,
            input.try_into()?,
        )
        .await?;
        Ok(announce(ctx, article).await)
    }

    /// Edits one of your articles; fields left out keep their value. Returns it.
    async fn update_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: ArticleFields,
    ) -> async_graphql::Result<ArticleNode> {
        let young = (input.published == Some(true)).then_some(Action::NewMemberArticle);
        limit(ctx, Action::ArticleUpdate, young).await?;
        let state = ctx.state();
        let article = service::update(
            &state.db,
            &state.settings,
            ctx.require_viewer()?,
            article_id(&id)?,
            input.try_into()?,
        )
        .await?;
        Ok(announce(ctx, article).await)
    }

    /// Publishes now, or at the article's future `publishedAt`.
    async fn publish_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
    ) -> async_graphql::Result<ArticleNode> {
        limit(ctx, Action::ArticleUpdate, Some(Action::NewMemberArticle)).await?;
        let state = ctx.state();
        let article = service::set_published(
            &state.db,
            &state.settings,
            ctx.require_viewer()?,
            article_id(&id)?,
            true,
        )
        .await?;
        Ok(announce(ctx, article).await)
    }

    /// Back to draft: by its author, or by a moderator or admin.
    async fn unpublish_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
    ) -> async_graphql::Result<ArticleNode> {
        let state = ctx.state();
        let article = service::set_published(
            &state.db,
            &state.settings,
            ctx.require_viewer()?,
            article_id(&id)?,
            false,
        )
        .await?;
        Ok(announce(ctx, article).await)
    }

    /// Deletes one of your articles with its comments and reactions; answers true, or
    /// NOT_FOUND when there is no such article of yours.
    async fn delete_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        service::delete(&ctx.state().db, ctx.require_viewer()?, article_id(&id)?).await?;
        Ok(true)
    }

    /// Comments on a live article, or replies to a comment on it. Returns the comment.
    async fn create_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a live article.")] article_id: ID,
        #[graphql(
            desc = "The comment replied to, on the same article; left out for a comment on the article."
        )]
        parent_id: Option<ID>,
        #[graphql(desc = "The comment in Markdown (1 to 25,000 characters).")]
        body_markdown: String,
    ) -> async_graphql::Result<CommentNode> {
        let article = self::article_id(&article_id)?;
        let parent = parent_id.as_ref().map(comment_id).transpose()?;
        limit(ctx, Action::CommentCreate, Some(Action::NewMemberComment)).await?;
        let comment = comments::create(
            &ctx.state().db,
            &ctx.state().settings,
            ctx.require_viewer()?,
            article,
            parent,
            &body_markdown,
        )
        .await?;
        events::publish(&ctx.state().pubsub, &events::comments(article), comment.id).await;
        comment_node(ctx, comment).await
    }

    /// Edits one of your comments; sets its `editedAt`. Returns it.
    async fn update_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment's global ID.")] id: ID,
        #[graphql(desc = "The new Markdown (1 to 25,000 characters).")] body_markdown: String,
    ) -> async_graphql::Result<CommentNode> {
        let comment = comments::update(
            &ctx.state().db,
            ctx.require_viewer()?,
            comment_id(&id)?,
            &body_markdown,
        )
        .await?;
        announce_change(ctx, &comment, events::Change::Edited).await;
        comment_node(ctx, comment).await
    }

    /// By its author, or a moderator or admin; it stays in the thread as "[deleted]".
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment's global ID.")] id: ID,
    ) -> async_graphql::Result<CommentNode> {
        let comment =
            comments::delete(&ctx.state().db, ctx.require_viewer()?, comment_id(&id)?).await?;
        announce_change(ctx, &comment, events::Change::Deleted).await;
        comment_node(ctx, comment).await
    }

    /// By the article's author: the comment shows as hidden to others.
    async fn hide_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment's global ID.")] id: ID,
        #[graphql(default = true, desc = "true hides it, false shows it again.")] hidden: bool,
    ) -> async_graphql::Result<CommentNode> {
        let comment = comments::set_hidden(
            &ctx.state().db,
            ctx.require_viewer()?,
            comment_id(&id)?,
            hidden,
        )
        .await?;
        // What the comment now is decides the event.
        let change = if comment.hidden_at.is_some() {
            events::Change::Hidden
        } else {
            events::Change::Shown
        };
        announce_change(ctx, &comment, change).await;
        comment_node(ctx, comment).await
    }

    /// Turns a reaction on an article or comment on or off. With `reacted`, sets that
    /// state (repeating it changes nothing); without, flips it. `readinglist` bookmarks.
    async fn toggle_reaction(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of an article or a comment.")] reactable_id: ID,
        #[graphql(desc = "A configured category name, e.g. `like` or `readinglist`.")]
        category: String,
        #[graphql(desc = "The state to set; left out, the reaction flips.")] reacted: Option<bool>,
    ) -> async_graphql::Result<ReactionResult> {
        let item = match node::decode(&reactable_id)? {
            (t, id) if t == ArticleNode::TYPE_NAME => Reactable::Article(id.into()),
            (t, id) if t == CommentNode::TYPE_NAME => Reactable::Comment(id.into()),
            _ => {
                return Err(AppError::bad_input(
                    "reactableId",
                    "only articles and comments take reactions",
                )
                .into());
            }
        };
        limit(ctx, Action::Reaction, None).await?;
        let state = ctx.state();
        let on = reactions::toggle(
            &state.db,
            &state.settings,
            ctx.require_viewer()?,
            item,
            &category,
            reacted,
        )
        .await?;
        let public = reactions::category(&state.settings, &category).is_ok_and(|c| !c.private);
        if let (Reactable::Article(article), true) = (item, public) {
            events::publish(&state.pubsub, &events::reactions(article), article).await;
        }
        let counts = reactions::counts(&state.db, &state.settings, &[item]).await?;
        let mut reaction_counts: Vec<ReactionCount> = counts
            .get(&item)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(category, count)| ReactionCount { category, count })
            .collect();
        reaction_counts.sort_by(|a, b| a.category.cmp(&b.category));
        Ok(ReactionResult {
            reacted: on,
            category,
            reaction_counts,
        })
    }

    /// Follows a member or a tag (by ID). Following again changes nothing.
    async fn follow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a member or a tag.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let target = followable(&id)?;
        limit(ctx, Action::Follow, None).await?;
        Ok(follows::set(&ctx.state().db, ctx.require_viewer()?, target, true).await?)
    }

    /// Stops following a member or a tag. Unfollowing again changes nothing.
    async fn unfollow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of a member or a tag.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let target = followable(&id)?;
        follows::set(&ctx.state().db, ctx.require_viewer()?, target, false).await?;
        Ok(false)
    }

    /// Stops seeing a member: their articles leave your feeds, their actions stop
    /// notifying you, their live events stop reaching you.
    async fn block_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let target = node::decode_as::<UserNode>(&id)?;
        Ok(blocks::set(&ctx.state().db, ctx.require_viewer()?, target, true).await?)
    }

    /// Lifts a block; their content and events reach you again.
    async fn unblock_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let target = node::decode_as::<UserNode>(&id)?;
        Ok(blocks::set(&ctx.state().db, ctx.require_viewer()?, target, false).await?)
    }

    /// Renames one of your series or rewrites its description; its slug stays. Returns it.
    async fn update_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The series' global ID.")] id: ID,
        #[graphql(desc = "A new title (1 to 128 characters); left out, it stays.")] title: Option<
            String,
        >,
        #[graphql(desc = "A new description (at most 1,000 characters); left out, it stays.")]
        description: Option<String>,
    ) -> async_graphql::Result<SeriesNode> {
        limit(ctx, Action::ArticleUpdate, None).await?;
        let id = node::decode_as::<SeriesNode>(&id)?;
        let series = series::update(
            &ctx.state().db,
            ctx.require_viewer()?,
            id,
            title.as_deref(),
            description.as_deref(),
        )
        .await?;
        Ok(SeriesNode(series))
    }

    /// Moderators describe a tag.
    async fn update_tag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tag's name.")] name: String,
        #[graphql(desc = "What belongs under the tag; left out, it stays as it is.")]
        description: Option<String>,
        #[graphql(desc = "A colour as `#rrggbb`; left out, it stays as it is.")] color: Option<
            String,
        >,
    ) -> async_graphql::Result<TagNode> {
        let tag = tags::update(
            &ctx.state().db,
            ctx.require_viewer()?,
            &name,
            description,
            color,
        )
        .await?;
        Ok(TagNode(tag))
    }
}

fn followable(id: &ID) -> async_graphql::Result<Followable> {
    match node::decode(id)? {
        (t, id) if t == UserNode::TYPE_NAME => Ok(Followable::User(id.into())),
        (t, id) if t == TagNode::TYPE_NAME => Ok(Followable::Tag(id.into())),
        _ => Err(AppError::bad_input("id", "only members and tags can be followed").into()),
    }
}
