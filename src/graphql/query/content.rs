use async_graphql::{Context, Enum, ID, Object};

use crate::config::ReactionCategory;
use crate::domain::accounts::Role;
use crate::domain::articles::{listing, service};
use crate::domain::tags::{self, TagKey, TagOrder};
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::node;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::content::{ArticleNode, SeriesNode, TagNode, article_page};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// How a list of tags is ordered.
pub enum TagsOrder {
    /// Most live articles first.
    Popular,
    /// Alphabetical.
    Name,
}

#[derive(Default)]
pub struct ContentQuery;

#[Object]
impl ContentQuery {
    /// An article by ID, or by its path (`username` and `slug`). Drafts only for their
    /// author, or with their `previewToken`.
    async fn article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's global ID; or give `username` and `slug`.")] id: Option<ID>,
        #[graphql(desc = "The author's username, with `slug`.")] username: Option<String>,
        #[graphql(desc = "The article's slug, with `username`.")] slug: Option<String>,
        #[graphql(desc = "A draft's preview token: shows the draft to anyone who has it.")]
        preview_token: Option<String>,
    ) -> async_graphql::Result<Option<ArticleNode>> {
        let viewer = ctx.viewer();
        match (id, username, slug) {
            (Some(id), None, None) => {
                let uuid = node::decode_as::<ArticleNode>(&id)?;
                let article = ctx.loaders().article(uuid, ctx.look_ahead()).await?;
                Ok(article
                    .filter(|a| a.visible_with(viewer, preview_token.as_deref()))
                    .map(ArticleNode))
            }
            (None, Some(username), Some(slug)) => {
                let found = service::find_by_path(
                    &ctx.state().db,
                    viewer,
                    &username,
                    &slug,
                    preview_token.as_deref(),
                    crate::graphql::loaders::includes(ctx.look_ahead()),
                )
                .await?;
                Ok(found.map(|(article, extras)| {
                    ctx.loaders().prime(&[(&article, &extras)]);
                    ArticleNode(article)
                }))
            }
            _ => Err(AppError::bad_input("id", "pass either id, or username and slug").into()),
        }
    }

    /// Live articles, newest first; optionally of one tag or one member.
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
        #[graphql(desc = "Only articles with this tag.")] tag: Option<String>,
        #[graphql(desc = "Only articles by this member.")] username: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let author = match username {
            Some(name) => {
                match crate::domain::accounts::repo::find_by_username(&ctx.state().db, name.trim())
                    .await?
                {
                    Some(user) => Some(user.id),
                    None => return Ok(Conn::new(false, false).counted(Total::Known(0))),
                }
            }
            None => None,
        };
        let filter = listing::Filter {
            tag,
            author,
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

    /// An organization by its slug (any case): null when there is none.
    async fn organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization's slug, as in its page's address `/{slug}`.")]
        slug: String,
    ) -> async_graphql::Result<Option<crate::graphql::types::organizations::OrganizationNode>> {
        if slug.len() > 64 {
            return Ok(None);
        }
        Ok(
            crate::domain::organizations::by_slug(&ctx.state().db, &slug)
                .await?
                .map(crate::graphql::types::organizations::OrganizationNode),
        )
    }

    /// A tag by name.
    async fn tag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tag's name, without `#` (any case).")] name: String,
    ) -> async_graphql::Result<Option<TagNode>> {
        Ok(tags::by_name(&ctx.state().db, &name).await?.map(TagNode))
    }

    /// Every tag, the most used first unless `orderBy` says otherwise.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "TagsOrder::Popular", desc = "The order of the list.")]
        order_by: TagsOrder,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<TagNode>> {
        let page = ctx.page::<TagKey>(PageArgs::new(first, after, last, before))?;
        let order = match order_by {
            TagsOrder::Popular => TagOrder::Popular,
            TagsOrder::Name => TagOrder::Name,
        };
        let rows = tags::list(&ctx.state().db, order, &page).await?;
        Ok(page
            .into_connection(rows.into_iter().map(TagNode).collect(), |t| {
                (
                    if order == TagOrder::Popular {
                        t.0.articles_count
                    } else {
                        0
                    },
                    t.0.name.clone(),
                )
            })?
            .counted(Total::later({
                let db = ctx.state().db.clone();
                async move { tags::count(&db).await }
            })))
    }

    /// A series by its global ID; null when there is none, or when it has no live article
    /// yet and the viewer is not its author.
    async fn series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The series' global ID.")] id: ID,
    ) -> async_graphql::Result<Option<SeriesNode>> {
        let id = node::decode_as::<SeriesNode>(&id)?;
        SeriesNode::visible(ctx, id).await
    }

    /// The reactions members can give, in the order to draw their buttons, as this
    /// instance configures them.
    async fn reaction_categories(&self, ctx: &Context<'_>) -> Vec<ReactionCategoryNode> {
        let viewer = ctx.viewer();
        ctx.state()
            .settings
            .reactions
            .iter()
            .map(|category| ReactionCategoryNode {
                viewer_can_use: viewer.is_some_and(|v| {
                    v.require_writer().is_ok()
                        && (!category.privileged || v.require_role(Role::Trusted).is_ok())
                }),
                category: category.clone(),
            })
            .collect()
    }
}

pub struct ReactionCategoryNode {
    category: ReactionCategory,
    viewer_can_use: bool,
}

/// A kind of reaction, as configured: its name is what `toggleReaction(category:)`,
/// `reactionCounts` and `viewerReactions` use.
#[Object(name = "ReactionCategory")]
impl ReactionCategoryNode {
    /// The name the API uses, e.g. `like` or `readinglist`.
    async fn name(&self) -> &str {
        &self.category.name
    }
    /// What its button shows, e.g. "Like" or "Reading list".
    async fn label(&self) -> String {
        self.category.label()
    }
    /// Whether its counts are shown to everyone in `reactionCounts`; false for the reading
    /// list (each member's own) and for the privileged categories.
    async fn public(&self) -> bool {
        !self.category.private
    }
    /// Reserved to trusted members, moderators and admins; moves an item's score without
    /// being shown.
    async fn privileged(&self) -> bool {
        self.category.privileged
    }
    /// Whether the signed-in member may react with it now; false when signed out.
    async fn viewer_can_use(&self) -> bool {
        self.viewer_can_use
    }
}
