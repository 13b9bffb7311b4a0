use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::domain::articles::series;
use crate::domain::articles::service::{self, ArticleInput};
use crate::domain::follows::{self, Followable};
use crate::domain::reactions::{self, Reactable};
use crate::domain::{blocks, comments, tags};
use crate::error::{AllValid as _, AppError, AppResult};
use crate::events;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::{UserNode, ViewerNode, load_user, load_viewer};
use crate::graphql::types::content::{ArticleNode, CommentNode, SeriesNode, TagNode};
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
    /// An organization you belong to, to publish under (its editors and owners publish
    /// it; its members submit it for review); empty takes the draft out of it. Only the
    /// article's author sets it, while it is not live.
    pub organization_id: Option<ID>,
}

impl TryFrom<ArticleFields> for ArticleInput {
    type Error = AppError;

    fn try_from(f: ArticleFields) -> Result<Self, AppError> {
        let cover_image_id = f
            .cover_image_id
            .as_ref()
            .map(|id| node::decode_field::<ImageNode>(id, "coverImageId"))
            .transpose()?;
        let organization_id = f
            .organization_id
            .as_ref()
            .map(|id| {
                if id.is_empty() {
                    Ok(None)
                } else {
                    node::decode_field::<crate::graphql::types::organizations::OrganizationNode>(
                        id,
                        "organizationId",
                    )
                    .map(Some)
                }
            })
            .transpose()?;
        Ok(Self {
            organization_id,
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

mutation_input! {
    /// A new article.
    CreateArticleInput {
        /// The article's fields.
        #[graphql(flatten)]
        fields: ArticleFields,
    }
}

mutation_input! {
    /// Changes to one of your articles.
    UpdateArticleInput {
        /// The article's global ID.
        id: ID,
        /// The fields to change.
        #[graphql(flatten)]
        fields: ArticleFields,
    }
}

/// Declares inputs that name one node by its global ID.
macro_rules! id_inputs {
    ($($name:ident: $what:literal, $id:literal);+ $(;)?) => {$(
        mutation_input! {
            #[doc = $what]
            $name {
                #[doc = $id]
                id: ID,
            }
        }
    )+};
}

id_inputs! {
    PublishArticleInput: "An article of yours to publish.", "The article's global ID.";
    UnpublishArticleInput: "An article to take back to draft.", "The article's global ID.";
    DeleteArticleInput: "An article of yours to delete.", "The article's global ID.";
    DeleteCommentInput: "A comment to delete.", "The comment's global ID.";
    FollowInput: "A member, a tag or an organization to follow.", "The global ID of a member, a tag or an organization.";
    UnfollowInput: "A member, a tag or an organization to stop following.", "The global ID of a member, a tag or an organization.";
    BlockUserInput: "A member to block.", "The member's global ID.";
    UnblockUserInput: "A member to unblock.", "The member's global ID.";
}

/// Declares the payloads of mutations that change an article.
macro_rules! article_payloads {
    ($($name:ident: $what:literal),+ $(,)?) => {$(
        mutation_payload! {
            #[doc = $what]
            $name {
                /// The article as it is now.
                article: Option<ArticleNode>,
                /// Its author, with `articlesCount` as it is now.
                author: Option<UserNode>,
            }
        }
    )+};
}

article_payloads! {
    CreateArticlePayload: "A new article.",
    UpdateArticlePayload: "An edited article.",
    PublishArticlePayload: "A published (or scheduled) article.",
    UnpublishArticlePayload: "An article back to draft.",
}

mutation_payload! {
    /// A deleted article.
    DeleteArticlePayload {
        /// The deleted article's ID, to drop it from cached lists.
        deleted_article_id: Option<ID>,
        /// Its author, with `articlesCount` as it is now.
        author: Option<UserNode>,
    }
}

mutation_input! {
    /// A new comment.
    CreateCommentInput {
        /// The global ID of a live article.
        article_id: ID,
        /// The comment replied to, on the same article; left out for a comment on the
        /// article.
        parent_id: Option<ID>,
        /// The comment in Markdown (1 to 25,000 characters).
        body_markdown: String,
    }
}

mutation_payload! {
    /// A new comment, with what it changed.
    CreateCommentPayload {
        /// The comment.
        comment: Option<CommentNode>,
        /// Its article, with `commentsCount` as it is now.
        article: Option<ArticleNode>,
        /// The comment it replies to, with `repliesCount` as it is now; null for a comment
        /// on the article.
        parent: Option<CommentNode>,
    }
}

mutation_input! {
    /// A new text for one of your comments.
    UpdateCommentInput {
        /// The comment's global ID.
        id: ID,
        /// The new Markdown (1 to 25,000 characters).
        body_markdown: String,
    }
}

mutation_payload! {
    /// An edited comment.
    UpdateCommentPayload {
        /// The comment as it is now, with its `editedAt`.
        comment: Option<CommentNode>,
    }
}

mutation_payload! {
    /// A deleted comment: it stays in its thread as "[deleted]".
    DeleteCommentPayload {
        /// The comment as it is now.
        comment: Option<CommentNode>,
        /// Its article, with `commentsCount` as it is now.
        article: Option<ArticleNode>,
        /// The comment it replied to, with `repliesCount` as it is now; null for a comment
        /// on the article.
        parent: Option<CommentNode>,
    }
}

mutation_input! {
    /// A comment on your article to hide or show.
    HideCommentInput {
        /// The comment's global ID.
        id: ID,
        /// true hides it, false shows it again.
        #[graphql(default = true)]
        hidden: bool,
    }
}

mutation_payload! {
    /// A comment hidden or shown again.
    HideCommentPayload {
        /// The comment as it is now.
        comment: Option<CommentNode>,
    }
}

mutation_input! {
    /// A reaction to turn on or off.
    ToggleReactionInput {
        /// The global ID of an article or a comment.
        reactable_id: ID,
        /// A configured category name (see `reactionCategories`), e.g. `like` or
        /// `readinglist`.
        category: String,
        /// The state to set; left out, the reaction flips.
        reacted: Option<bool>,
    }
}

mutation_payload! {
    /// The state of one reaction after `toggleReaction`.
    ToggleReactionPayload {
        /// Whether the viewer's reaction is now on.
        reacted: Option<bool>,
        /// The category toggled.
        category: Option<String>,
        /// The article reacted to, with its counts and `viewerReactions` as they are now;
        /// null when a comment was.
        article: Option<ArticleNode>,
        /// The comment reacted to, with its counts and `viewerReactions` as they are now;
        /// null when an article was.
        comment: Option<CommentNode>,
    }
}

/// Declares the payloads of `follow` and `unfollow`.
macro_rules! follow_payloads {
    ($($name:ident: $what:literal),+ $(,)?) => {$(
        mutation_payload! {
            #[doc = $what]
            $name {
                /// The member, with `viewerIsFollowing` and `followersCount` as they are now;
                /// null when the target is not a member.
                user: Option<UserNode>,
                /// The tag, with `viewerIsFollowing` and `followersCount` as they are now;
                /// null when the target is not a tag.
                tag: Option<TagNode>,
                /// The organization, with `viewerIsFollowing` and `followersCount` as they
                /// are now; null when the target is not an organization.
                organization: Option<crate::graphql::types::organizations::OrganizationNode>,
                /// The signed-in member (`viewer.user.followingCount`, `followedTags`).
                viewer: Option<ViewerNode>,
            }
        }
    )+};
}

follow_payloads! {
    FollowPayload: "A member, tag or organization followed.",
    UnfollowPayload: "A member, tag or organization no longer followed.",
}

/// Declares the payloads of `blockUser` and `unblockUser`.
macro_rules! block_payloads {
    ($($name:ident: $what:literal),+ $(,)?) => {$(
        mutation_payload! {
            #[doc = $what]
            $name {
                /// The member, with `viewerHasBlocked` as it is now.
                user: Option<UserNode>,
            }
        }
    )+};
}

block_payloads! {
    BlockUserPayload: "A member blocked.",
    UnblockUserPayload: "A member no longer blocked.",
}

mutation_input! {
    /// Changes to one of your series.
    UpdateSeriesInput {
        /// The series' global ID.
        id: ID,
        /// A new title (1 to 128 characters); left out, it stays.
        title: Option<String>,
        /// A new description (at most 1,000 characters); left out, it stays.
        description: Option<String>,
    }
}

mutation_payload! {
    /// A renamed or redescribed series.
    UpdateSeriesPayload {
        /// The series as it is now.
        series: Option<SeriesNode>,
    }
}

mutation_input! {
    /// A tag's description, colour, rules and aliases, set by its moderators (or the
    /// instance's).
    UpdateTagInput {
        /// The tag's name.
        name: String,
        /// What belongs under the tag (at most 500 characters); left out, it stays as it is.
        description: Option<String>,
        /// A colour as `#rrggbb` (empty clears it); left out, it stays as it is.
        color: Option<String>,
        /// The tag's rules in Markdown (at most 5,000 characters), shown on the tag page
        /// and to writers using the tag; left out, they stay as they are.
        rules: Option<String>,
        /// Other names that lead to this tag (at most 10, each 1 to 30 letters or
        /// digits, none another tag's name or alias): an article tagged with an alias gets
        /// this tag. Replaces the list; left out, it stays as it is.
        aliases: Option<Vec<String>>,
    }
}

mutation_payload! {
    /// A tag as moderators described it.
    UpdateTagPayload {
        /// The tag as it is now.
        tag: Option<TagNode>,
    }
}

/// Tells subscribers about an article that just went live; answers with the article and
/// its author as they are now.
async fn announce(
    ctx: &Context<'_>,
    saved: service::Saved,
) -> async_graphql::Result<(Option<ArticleNode>, Option<UserNode>)> {
    if saved.went_live {
        events::publish(&ctx.state().pubsub, events::ARTICLES, saved.article.id).await;
    }
    let author = load_user(ctx, saved.article.user_id).await?;
    Ok((Some(ArticleNode(saved.article)), author))
}

/// Publishes (or schedules) or unpublishes article `id`; answers as [`announce`] does.
async fn set_published(
    ctx: &Context<'_>,
    id: &ID,
    published: bool,
) -> async_graphql::Result<(Option<ArticleNode>, Option<UserNode>)> {
    let state = ctx.state();
    let saved = service::set_published(
        &state.db,
        &state.settings,
        ctx.require_viewer()?,
        article_id(id, "id")?,
        published,
    )
    .await?;
    announce(ctx, saved).await
}

fn article_id(id: &ID, field: &str) -> AppResult<crate::ids::ArticleId> {
    node::decode_field::<ArticleNode>(id, field)
}

fn comment_id(id: &ID, field: &str) -> AppResult<crate::ids::CommentId> {
    node::decode_field::<CommentNode>(id, field)
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

/// A comment's node, with its article's as it is now.
pub(crate) async fn comment_and_article(
    ctx: &Context<'_>,
    comment: comments::Comment,
) -> async_graphql::Result<(CommentNode, ArticleNode)> {
    let article = ctx
        .loaders()
        .articles
        .load_one(comment.article_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such article".to_owned()))?;
    let node = CommentNode {
        comment,
        thread: None,
        article_author: article.user_id,
    };
    Ok((node, ArticleNode(article)))
}

/// The comment `comment` replies to, as it is now; None for a root comment.
async fn parent_node(
    ctx: &Context<'_>,
    comment: &CommentNode,
) -> async_graphql::Result<Option<CommentNode>> {
    let Some(parent) = comment.comment.parent_id else {
        return Ok(None);
    };
    Ok(ctx
        .loaders()
        .comments
        .load_one(parent)
        .await?
        .map(|parent| CommentNode {
            comment: parent,
            thread: None,
            article_author: comment.article_author,
        }))
}

#[derive(Default)]
pub struct ContentMutation;

#[Object]
impl ContentMutation {
    /// Writes an article: a draft unless `published` is true.
    async fn create_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's fields; `title` is required here or in the front matter.")]
        input: CreateArticleInput,
    ) -> async_graphql::Result<CreateArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let young = (input.fields.published == Some(true)).then_some(Action::NewMemberArticle);
            limit(ctx, Action::ArticleCreate, young).await?;
            let state = ctx.state();
            let saved = service::create(
                &state.db,
                &state.settings,
                ctx.require_viewer()?,
                input.fields.try_into()?,
            )
            .await?;
            let (article, author) = announce(ctx, saved).await?;
            Ok(CreateArticlePayload {
                article,
                author,
                ..Default::default()
            })
        })
        .await
    }

    /// Edits one of your articles; fields left out keep their value.
    async fn update_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the fields to change.")] input: UpdateArticleInput,
    ) -> async_graphql::Result<UpdateArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let young = (input.fields.published == Some(true)).then_some(Action::NewMemberArticle);
            limit(ctx, Action::ArticleUpdate, young).await?;
            let state = ctx.state();
            let id = article_id(&input.id, "id");
            let saved = service::update(
                &state.db,
                &state.settings,
                ctx.require_viewer()?,
                id?,
                input.fields.try_into()?,
            )
            .await?;
            let (article, author) = announce(ctx, saved).await?;
            Ok(UpdateArticlePayload {
                article,
                author,
                ..Default::default()
            })
        })
        .await
    }

    /// Publishes now, or at the article's future `publishedAt`.
    async fn publish_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article to publish.")] input: PublishArticleInput,
    ) -> async_graphql::Result<PublishArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit(ctx, Action::ArticleUpdate, Some(Action::NewMemberArticle)).await?;
            let (article, author) = set_published(ctx, &input.id, true).await?;
            Ok(PublishArticlePayload {
                article,
                author,
                ..Default::default()
            })
        })
        .await
    }

    /// Back to draft: by its author, or by a moderator or admin.
    async fn unpublish_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article to unpublish.")] input: UnpublishArticleInput,
    ) -> async_graphql::Result<UnpublishArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let (article, author) = set_published(ctx, &input.id, false).await?;
            Ok(UnpublishArticlePayload {
                article,
                author,
                ..Default::default()
            })
        })
        .await
    }

    /// Deletes one of your articles with its comments and reactions; NOT_FOUND when there
    /// is no such article of yours.
    async fn delete_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article to delete.")] input: DeleteArticleInput,
    ) -> async_graphql::Result<DeleteArticlePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = article_id(&input.id, "id")?;
            service::delete(&ctx.state().db, viewer, id).await?;
            Ok(DeleteArticlePayload {
                deleted_article_id: Some(input.id.clone()),
                author: load_user(ctx, viewer.user_id).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Comments on a live article, or replies to a comment on it.
    async fn create_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where the comment goes and what it says.")] input: CreateCommentInput,
    ) -> async_graphql::Result<CreateCommentPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let (article, parent) = (
                article_id(&input.article_id, "articleId"),
                input
                    .parent_id
                    .as_ref()
                    .map(|id| comment_id(id, "parentId"))
                    .transpose(),
            )
                .all_valid()?;
            limit(ctx, Action::CommentCreate, Some(Action::NewMemberComment)).await?;
            let comment = comments::create(
                &ctx.state().db,
                &ctx.state().settings,
                ctx.require_viewer()?,
                article,
                parent,
                &input.body_markdown,
            )
            .await?;
            events::publish(&ctx.state().pubsub, &events::comments(article), comment.id).await;
            let (comment, article) = comment_and_article(ctx, comment).await?;
            Ok(CreateCommentPayload {
                parent: parent_node(ctx, &comment).await?,
                comment: Some(comment),
                article: Some(article),
                ..Default::default()
            })
        })
        .await
    }

    /// Edits one of your comments; sets its `editedAt`.
    async fn update_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment and its new text.")] input: UpdateCommentInput,
    ) -> async_graphql::Result<UpdateCommentPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let comment = comments::update(
                &ctx.state().db,
                ctx.require_viewer()?,
                comment_id(&input.id, "id")?,
                &input.body_markdown,
            )
            .await?;
            announce_change(ctx, &comment, events::Change::Edited).await;
            Ok(UpdateCommentPayload {
                comment: Some(comment_and_article(ctx, comment).await?.0),
                ..Default::default()
            })
        })
        .await
    }

    /// By its author, or a moderator or admin; it stays in the thread as "[deleted]".
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment to delete.")] input: DeleteCommentInput,
    ) -> async_graphql::Result<DeleteCommentPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let comment = comments::delete(
                &ctx.state().db,
                ctx.require_viewer()?,
                comment_id(&input.id, "id")?,
            )
            .await?;
            announce_change(ctx, &comment, events::Change::Deleted).await;
            let (comment, article) = comment_and_article(ctx, comment).await?;
            Ok(DeleteCommentPayload {
                parent: parent_node(ctx, &comment).await?,
                comment: Some(comment),
                article: Some(article),
                ..Default::default()
            })
        })
        .await
    }

    /// By the article's author: the comment shows as hidden to others.
    async fn hide_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment, and whether to hide or show it.")] input: HideCommentInput,
    ) -> async_graphql::Result<HideCommentPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let comment = comments::set_hidden(
                &ctx.state().db,
                ctx.require_viewer()?,
                comment_id(&input.id, "id")?,
                input.hidden,
            )
            .await?;
            // What the comment now is decides the event.
            let change = if comment.hidden_at.is_some() {
                events::Change::Hidden
            } else {
                events::Change::Shown
            };
            announce_change(ctx, &comment, change).await;
            Ok(HideCommentPayload {
                comment: Some(comment_and_article(ctx, comment).await?.0),
                ..Default::default()
            })
        })
        .await
    }

    /// Turns a reaction on an article or comment on or off. With `reacted`, sets that
    /// state (repeating it changes nothing); without, flips it. `readinglist` bookmarks.
    async fn toggle_reaction(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item, the category and the state wanted.")]
        input: ToggleReactionInput,
    ) -> async_graphql::Result<ToggleReactionPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let only =
                || AppError::bad_input("reactableId", "only articles and comments take reactions");
            let item = match node::decode(&input.reactable_id).map_err(|_| only())? {
                (t, id) if t == ArticleNode::TYPE_NAME => Reactable::Article(id.into()),
                (t, id) if t == CommentNode::TYPE_NAME => Reactable::Comment(id.into()),
                _ => return Err(only().into()),
            };
            limit(ctx, Action::Reaction, None).await?;
            let state = ctx.state();
            let on = reactions::toggle(
                &state.db,
                &state.settings,
                ctx.require_viewer()?,
                item,
                &input.category,
                input.reacted,
            )
            .await?;
            let public =
                reactions::category(&state.settings, &input.category).is_ok_and(|c| !c.private);
            let mut payload = ToggleReactionPayload {
                reacted: Some(on),
                category: Some(input.category.clone()),
                ..Default::default()
            };
            match item {
                Reactable::Article(article) => {
                    if public {
                        events::publish(&state.pubsub, &events::reactions(article), article).await;
                    }
                    payload.article = ctx
                        .loaders()
                        .articles
                        .load_one(article)
                        .await?
                        .map(ArticleNode);
                }
                Reactable::Comment(comment) => {
                    if let Some(comment) = ctx.loaders().comments.load_one(comment).await? {
                        payload.comment = Some(comment_and_article(ctx, comment).await?.0);
                    }
                }
            }
            Ok(payload)
        })
        .await
    }

    /// Follows a member or a tag (by ID). Following again changes nothing.
    async fn follow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member or tag to follow.")] input: FollowInput,
    ) -> async_graphql::Result<FollowPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let target = followable(&input.id)?;
            limit(ctx, Action::Follow, None).await?;
            follows::set(&ctx.state().db, ctx.require_viewer()?, target, true).await?;
            let (user, tag, organization, viewer) = followed(ctx, target).await?;
            Ok(FollowPayload {
                user,
                tag,
                organization,
                viewer,
                ..Default::default()
            })
        })
        .await
    }

    /// Stops following a member or a tag. Unfollowing again changes nothing.
    async fn unfollow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member or tag to stop following.")] input: UnfollowInput,
    ) -> async_graphql::Result<UnfollowPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let target = followable(&input.id)?;
            follows::set(&ctx.state().db, ctx.require_viewer()?, target, false).await?;
            let (user, tag, organization, viewer) = followed(ctx, target).await?;
            Ok(UnfollowPayload {
                user,
                tag,
                organization,
                viewer,
                ..Default::default()
            })
        })
        .await
    }

    /// Stops seeing a member: their articles leave your feeds, their actions stop
    /// notifying you, their live events stop reaching you.
    async fn block_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to block.")] input: BlockUserInput,
    ) -> async_graphql::Result<BlockUserPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let target = node::decode_as::<UserNode>(&input.id)?;
            blocks::set(&ctx.state().db, ctx.require_viewer()?, target, true).await?;
            Ok(BlockUserPayload {
                user: load_user(ctx, target).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Lifts a block; their content and events reach you again.
    async fn unblock_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to unblock.")] input: UnblockUserInput,
    ) -> async_graphql::Result<UnblockUserPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let target = node::decode_as::<UserNode>(&input.id)?;
            blocks::set(&ctx.state().db, ctx.require_viewer()?, target, false).await?;
            Ok(UnblockUserPayload {
                user: load_user(ctx, target).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Renames one of your series or rewrites its description; its slug stays.
    async fn update_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The series and what to change.")] input: UpdateSeriesInput,
    ) -> async_graphql::Result<UpdateSeriesPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit(ctx, Action::ArticleUpdate, None).await?;
            let id = node::decode_as::<SeriesNode>(&input.id)?;
            let series = series::update(
                &ctx.state().db,
                ctx.require_viewer()?,
                id,
                input.title.as_deref(),
                input.description.as_deref(),
            )
            .await?;
            Ok(UpdateSeriesPayload {
                series: Some(SeriesNode(series)),
                ..Default::default()
            })
        })
        .await
    }

    /// The tag's moderators (or the instance's) describe a tag: description, colour,
    /// rules and aliases.
    async fn update_tag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tag and what to change.")] input: UpdateTagInput,
    ) -> async_graphql::Result<UpdateTagPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            // Who asks comes before what they sent.
            ctx.require_viewer()?;
            let tag = tags::update(
                &ctx.state().db,
                ctx.require_viewer()?,
                &input.name,
                tags::TagChanges {
                    description: input.description.clone(),
                    color: input.color.clone(),
                    rules_markdown: input.rules.clone(),
                    aliases: input.aliases.clone(),
                },
            )
            .await?;
            Ok(UpdateTagPayload {
                tag: Some(TagNode(tag)),
                ..Default::default()
            })
        })
        .await
    }
}

fn followable(id: &ID) -> async_graphql::Result<Followable> {
    let only = || AppError::bad_input("id", "only members, tags and organizations can be followed");
    match node::decode(id).map_err(|_| only())? {
        (t, id) if t == UserNode::TYPE_NAME => Ok(Followable::User(id.into())),
        (t, id) if t == TagNode::TYPE_NAME => Ok(Followable::Tag(id.into())),
        (t, id) if t == crate::graphql::types::organizations::OrganizationNode::TYPE_NAME => {
            Ok(Followable::Organization(id.into()))
        }
        _ => Err(only().into()),
    }
}

type Followed = (
    Option<UserNode>,
    Option<TagNode>,
    Option<crate::graphql::types::organizations::OrganizationNode>,
    Option<ViewerNode>,
);

/// What following or unfollowing `target` changed: the member, the tag or the
/// organization, and the viewer.
async fn followed(ctx: &Context<'_>, target: Followable) -> async_graphql::Result<Followed> {
    let viewer = load_viewer(ctx).await?;
    Ok(match target {
        Followable::User(id) => (load_user(ctx, id).await?, None, None, viewer),
        Followable::Tag(id) => (
            None,
            ctx.loaders().tags.load_one(id).await?.map(TagNode),
            None,
            viewer,
        ),
        Followable::Organization(id) => (
            None,
            None,
            ctx.loaders()
                .organizations
                .load_one(id)
                .await?
                .map(crate::graphql::types::organizations::OrganizationNode),
            viewer,
        ),
    })
}
