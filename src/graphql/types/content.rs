//! Articles, comments, tags and series as the API shows them.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::articles::series::Series;
use crate::domain::articles::{self, Article, listing};
use crate::domain::comments::{self, Comment};
use crate::domain::follows::Followable;
use crate::domain::reactions::Reactable;
use crate::domain::tags::Tag;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::blocks_between;
use crate::graphql::loaders::content::Counted;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::accounts::UserNode;
use crate::ids::{ArticleId, CommentId, SeriesId, UserId};

/// Where an article is in its life: draft, scheduled, live or taken down.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "articles::ArticleStatus")]
pub enum ArticleStatus {
    /// Seen by its author alone.
    Draft,
    /// Published, going live at `publishedAt`; invisible until then.
    Scheduled,
    /// Live: listed in feeds, search and its author's and tags' pages.
    Published,
    /// Taken down by a moderator (see `removalReason`): seen by its author and the
    /// moderators; only a moderator can restore it.
    Removed,
}

#[derive(SimpleObject, Clone)]
/// How many reactions of one public category an item has.
pub struct ReactionCount {
    /// The category's name, as configured (`like`, `unicorn`, ...).
    pub category: String,
    /// How many members reacted with it.
    pub count: i32,
}

/// An item's public reactions per category, in the configured order, from the tallies
/// it carries (no statement).
fn reaction_counts(
    ctx: &Context<'_>,
    tallies: &std::collections::HashMap<String, i32>,
) -> Vec<ReactionCount> {
    crate::domain::reactions::public_counts(&ctx.state().settings, tallies)
        .into_iter()
        .map(|(category, count)| ReactionCount { category, count })
        .collect()
}

async fn viewer_reactions(
    ctx: &Context<'_>,
    item: Reactable,
) -> async_graphql::Result<Vec<String>> {
    if ctx.viewer().is_none() {
        return Ok(Vec::new());
    }
    Ok(ctx
        .loaders()
        .viewer_reactions
        .load_one(item)
        .await?
        .unwrap_or_default())
}

async fn author(ctx: &Context<'_>, id: UserId) -> async_graphql::Result<Option<UserNode>> {
    Ok(ctx.loaders().users.load_one(id).await?.map(UserNode))
}

pub struct ArticleNode(pub Article);

impl ArticleNode {
    /// One of the bodies: from the article itself when it was read whole, otherwise
    /// through the loader (one query for every listed article that asks).
    async fn body(
        &self,
        ctx: &Context<'_>,
        pick: fn(&Article) -> &String,
    ) -> async_graphql::Result<String> {
        if self.0.body_loaded {
            return Ok(pick(&self.0).clone());
        }
        let whole = ctx.loaders().articles.load_one(self.0.id).await?;
        Ok(pick(whole.as_ref().unwrap_or(&self.0)).clone())
    }
}

impl NodeType for ArticleNode {
    const TYPE_NAME: &'static str = "Article";
    type Id = crate::ids::ArticleId;
}

#[Object(name = "Article")]
/// An article: Markdown with front matter, written by a member, published to feeds or kept as a draft.
impl ArticleNode {
    /// The article's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The title (1 to 128 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The URL segment after the author's username, unique per author.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// `/{username}/{slug}`.
    async fn path(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let username = author(ctx, self.0.user_id)
            .await?
            .map(|u| u.0.username)
            .unwrap_or_default();
        Ok(format!("/{username}/{}", self.0.slug))
    }
    /// The article page's absolute URL on this instance, e.g.
    /// `https://vibecoding.community/ada/hello-world`.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(ctx.absolute_url(&self.path(ctx).await?))
    }
    /// The Markdown as written, front matter removed.
    async fn body_markdown(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        self.body(ctx, |a| &a.body_markdown).await
    }
    /// Rendered and sanitised when the article was written.
    async fn body_html(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        self.body(ctx, |a| &a.body_html).await
    }
    /// A short summary for cards and link previews, from the editor or the front matter; may be empty.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The cover picture's URL (1000x420); null when there is none.
    async fn cover_image_url(&self) -> Option<&str> {
        self.0.cover_image_url.as_deref()
    }
    /// Where the article was first published, for search engines; null when here.
    async fn canonical_url(&self) -> Option<&str> {
        self.0.canonical_url.as_deref()
    }
    /// Draft, scheduled, published or removed.
    async fn status(&self) -> ArticleStatus {
        self.0.status.into()
    }
    /// Why a moderator took the article down (status `REMOVED`); null otherwise.
    async fn removal_reason(&self) -> Option<&str> {
        self.0
            .removal_reason
            .as_deref()
            .filter(|_| self.0.is_removed())
    }
    /// When it went (or goes, when scheduled) live; null for a draft.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// When the article last changed after its publication.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
    /// The organization it is published under; null when none.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::types::organizations::OrganizationNode>> {
        match self.0.organization_id {
            Some(id) => Ok(ctx
                .loaders()
                .organizations
                .load_one(id)
                .await?
                .map(crate::graphql::types::organizations::OrganizationNode)),
            None => Ok(None),
        }
    }
    /// Co-authors who accepted, in the order they did: they edit it, hear of its comments
    /// and have it on their pages. `author` is the member who wrote it first.
    async fn co_authors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UserNode>> {
        users_in_order(ctx, &self.0.co_author_ids).await
    }
    /// Members invited to co-author it who have not answered: its author alone sees them
    /// (empty for anyone else).
    async fn pending_co_authors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UserNode>> {
        if ctx.viewer().is_none_or(|v| v.user_id != self.0.user_id) {
            return Ok(Vec::new());
        }
        let ids = ctx
            .loaders()
            .pending_co_authors
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        users_in_order(ctx, &ids).await
    }
    /// For an organization's draft: PENDING while in its editors' review queue, RETURNED
    /// when they sent it back (see `reviewNote`); null otherwise. Its authors see it.
    async fn review_state(&self, ctx: &Context<'_>) -> Option<ReviewState> {
        if !self.0.is_author(ctx.viewer()) && !self.0.in_review() {
            return None;
        }
        match self.0.review_state.as_deref() {
            Some("pending") => Some(ReviewState::Pending),
            Some("returned") => Some(ReviewState::Returned),
            _ => None,
        }
    }
    /// Why the editors sent it back; its authors alone see it.
    async fn review_note(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0
            .review_note
            .as_deref()
            .filter(|_| self.0.is_author(ctx.viewer()))
    }
    /// Every edit, newest first: editor, time, what changed and a diff of the Markdown.
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
    ) -> async_graphql::Result<
        Conn<
            crate::graphql::types::revisions::RevisionNode,
            async_graphql::connection::EmptyFields,
        >,
    > {
        crate::graphql::types::revisions::page(
            ctx,
            crate::domain::revisions::Edited::Article,
            self.0.id.uuid(),
            first,
            after,
        )
        .await
    }
    /// When its discussion was locked: no new comments until it is unlocked; null when open.
    async fn discussion_locked_at(&self) -> Option<DateTime<Utc>> {
        self.0.discussion_locked_at
    }
    /// Why its discussion was locked, to show where the comment box would be; null when open.
    async fn discussion_lock_reason(&self) -> Option<&str> {
        self.0
            .discussion_lock_reason
            .as_deref()
            .filter(|_| self.0.discussion_locked_at.is_some())
    }
    /// When it was first saved.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Estimated reading time in whole minutes (at least 1).
    async fn reading_time_minutes(&self) -> i32 {
        self.0.reading_time_minutes
    }
    /// Tag names, without loading the tags.
    async fn tag_list(&self) -> &[String] {
        &self.0.tag_names
    }
    /// Its tags (at most four), in the order the author gave them.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TagNode>> {
        Ok(ctx
            .loaders()
            .article_tags
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(TagNode)
            .collect())
    }
    /// The writer; null only if the account no longer exists.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        author(ctx, self.0.user_id).await
    }
    /// Comments and replies, deleted ones excluded.
    async fn comments_count(&self) -> i32 {
        self.0.comments_count
    }
    /// Reactions of every category, the private reading list included.
    async fn reactions_count(&self) -> i32 {
        self.0.reactions_count
    }
    /// The sum of its reactions' configured scores, less moderation penalties; orders TOP lists.
    async fn score(&self) -> i32 {
        self.0.score
    }
    /// Public reactions per category (the reading list is private).
    async fn reaction_counts(&self, ctx: &Context<'_>) -> Vec<ReactionCount> {
        reaction_counts(ctx, &self.0.tallies)
    }
    /// The signed-in member's reactions, `readinglist` included.
    async fn viewer_reactions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        viewer_reactions(ctx, Reactable::Article(self.0.id)).await
    }
    /// A page of root comments; replies hang below each. Pages forward only: a thread is
    /// read from its top, in the order asked for. The page and the levels of
    /// replies the selection asks for load in one statement, whatever the size of the
    /// thread (at most 5,000 comments in all).
    #[graphql(
        complexity = "crate::graphql::pagination::THREAD_COST + crate::graphql::pagination::connection(first, None, child_complexity)"
    )]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(
            default_with = "CommentOrder::Top",
            desc = "How root comments are ordered (replies keep their own order)."
        )]
        order_by: CommentOrder,
    ) -> async_graphql::Result<Conn<CommentNode>> {
        let (request, levels) = plan_thread(ctx, ctx.look_ahead(), first, after, order_by)?;
        let rows = comments::thread_page(
            &ctx.state().db,
            self.0.id,
            ctx.viewer().map(|v| v.user_id),
            &levels,
        )
        .await?;
        let page = Arc::new(ThreadPage::new(levels, rows));
        page.prime(ctx);
        Ok(page.connection(request, ctx, (self.0.id, None), 0, self.0.user_id)?)
    }
    /// The series it belongs to; null when none.
    async fn series(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SeriesNode>> {
        let Some(id) = self.0.series_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()
            .series
            .load_one(id)
            .await?
            .map(|(series, _)| SeriesNode(series)))
    }
    /// Whether the signed-in member may edit it (`updateArticle`): its authors, and for an
    /// organization's live or submitted article its editors and owners, unless suspended.
    async fn viewer_can_update(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        if self.0.may_edit(ctx.viewer()) {
            return Ok(true);
        }
        let (Some(org), Some(viewer)) = (self.0.organization_id, ctx.viewer()) else {
            return Ok(false);
        };
        if !self.0.open_to_editors() || viewer.require_writer().is_err() {
            return Ok(false);
        }
        let role = ctx.loaders().org_roles.load_one(org).await?;
        Ok(role >= Some(crate::domain::organizations::OrgRole::Editor))
    }
    /// Whether the signed-in member may delete it (`deleteArticle`): its author (not a
    /// co-author), unless suspended.
    async fn viewer_can_delete(&self, ctx: &Context<'_>) -> bool {
        self.0.may_edit(ctx.viewer()) && ctx.viewer().is_some_and(|v| v.user_id == self.0.user_id)
    }
    /// Whether the signed-in member may comment on it: it is live, its discussion is not
    /// locked, they are not suspended and its author has not blocked them (a comment ban
    /// is told when commenting, and in `viewer.standing`).
    async fn viewer_can_comment(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        if !self.0.may_react(ctx.viewer()) || self.0.discussion_locked_at.is_some() {
            return Ok(false);
        }
        let (_, blocked) = blocks_between(ctx, self.0.user_id).await?;
        Ok(self.0.may_comment(ctx.viewer(), blocked))
    }
    /// Whether the signed-in member may react to it: it is live and they are not
    /// suspended (privileged categories need more: see `reactionCategories`).
    async fn viewer_can_react(&self, ctx: &Context<'_>) -> bool {
        self.0.may_react(ctx.viewer())
    }
    /// Whether it is on the signed-in member's reading list; false when signed out.
    async fn viewer_has_bookmarked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let reactions = viewer_reactions(ctx, Reactable::Article(self.0.id)).await?;
        Ok(reactions
            .iter()
            .any(|r| r == crate::domain::reactions::READING_LIST))
    }
    /// How much the signed-in member hears of this article's comments (see
    /// `setThreadSubscription`); null when signed out.
    async fn viewer_subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::types::notifications::ThreadSubscriptionLevel>>
    {
        use crate::domain::notifications::ThreadLevel;
        let Some(viewer) = ctx.viewer() else {
            return Ok(None);
        };
        let chosen = ctx.loaders().thread_levels.load_one(self.0.id).await?;
        let level = chosen
            .map(|s| s.level)
            .unwrap_or(if self.0.user_id == viewer.user_id {
                ThreadLevel::All
            } else {
                ThreadLevel::RepliesAndMentions
            });
        Ok(Some(level.into()))
    }
    /// A link that shows a draft to anyone who has it; the author's alone to see.
    async fn preview_token(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0
            .is_author(ctx.viewer())
            .then_some(self.0.preview_token.as_str())
    }
}

/// An author's ordered collection of articles.
pub struct SeriesNode(pub Series);

impl NodeType for SeriesNode {
    const TYPE_NAME: &'static str = "Series";
    type Id = SeriesId;
}

impl SeriesNode {
    /// The series with this id, if the viewer may see it: its author always, others once
    /// it has a live article (a series named only by drafts is still private).
    pub async fn visible(ctx: &Context<'_>, id: SeriesId) -> async_graphql::Result<Option<Self>> {
        let found = ctx.loaders().series.load_one(id).await?;
        Ok(found
            .filter(|(series, live)| {
                !live.is_empty() || ctx.viewer().is_some_and(|v| v.user_id == series.user_id)
            })
            .map(|(series, _)| Self(series)))
    }
}

#[Object(name = "Series")]
/// An author's ordered collection of articles, named in their front matter (`series:`) or
/// the editor's `series` field.
impl SeriesNode {
    /// The series' opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// A URL segment made from the title when the series began; it stays when the series
    /// is renamed.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// The series' name as the author wrote it (1 to 128 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the series is about, in the author's words (`updateSeries`); may be empty.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The member whose series it is; null only if the account no longer exists.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        author(ctx, self.0.user_id).await
    }
    /// When the series began.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its live articles, in publication order: a plain list, as a series is read whole
    /// (drafts and scheduled parts are left out).
    async fn articles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ArticleNode>> {
        let found = ctx.loaders().series.load_one(self.0.id).await?;
        Ok(found
            .map(|(_, articles)| articles.into_iter().map(ArticleNode).collect())
            .unwrap_or_default())
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// How a list of comments is ordered.
pub enum CommentOrder {
    /// Highest score first.
    Top,
    /// Most recent first.
    Newest,
    /// Oldest first (conversation order).
    Oldest,
}

impl From<CommentOrder> for comments::Order {
    fn from(order: CommentOrder) -> Self {
        match order {
            CommentOrder::Top => Self::Top,
            CommentOrder::Newest => Self::Newest,
            CommentOrder::Oldest => Self::Oldest,
        }
    }
}

/// How many levels of replies a thread selection reads ahead; deeper ones load per level.
const PLANNED_LEVELS: usize = 6;

/// What a `comments` or `replies` field and the `replies` nested in its selection ask for:
/// this level's page request, and the levels to read at once (this one first, then each
/// nested `replies` selected once, without a cursor).
fn plan_thread(
    ctx: &Context<'_>,
    field: async_graphql::Lookahead<'_>,
    first: Option<i32>,
    after: Option<String>,
    order: CommentOrder,
) -> async_graphql::Result<(
    crate::graphql::pagination::PageRequest<comments::Key>,
    Vec<comments::Level>,
)> {
    let limits = &ctx.state().settings.graphql;
    let request = ctx.page::<comments::Key>(PageArgs::forward(first, after))?;
    let mut levels = vec![comments::Level {
        order: order.into(),
        fetch: request.fetch_limit(),
        after: request.after,
    }];
    let mut node = field.field("edges").field("node");
    while levels.len() < PLANNED_LEVELS {
        let replies = node.field("replies").selection_fields();
        let [replies] = replies.as_slice() else { break };
        let Ok(arguments) = replies.arguments() else {
            break;
        };
        let mut first = None;
        let mut order = comments::Order::Oldest;
        let mut cursor = false;
        for (name, value) in &arguments {
            match (name.as_str(), value) {
                ("first", async_graphql::Value::Number(n)) => first = n.as_i64(),
                ("after", async_graphql::Value::String(_)) => cursor = true,
                ("orderBy", async_graphql::Value::Enum(e)) => {
                    order = match e.as_str() {
                        "TOP" => comments::Order::Top,
                        "NEWEST" => comments::Order::Newest,
                        _ => comments::Order::Oldest,
                    }
                }
                _ => {}
            }
        }
        let size = match first {
            None => limits.default_page_size,
            Some(n) => match usize::try_from(n) {
                Ok(n) if n <= limits.max_page_size => n,
                // The resolver reports it.
                _ => break,
            },
        };
        if cursor {
            break;
        }
        levels.push(comments::Level {
            order,
            fetch: i64::try_from(size + 1).unwrap_or(i64::MAX),
            after: None,
        });
        node = async_graphql::Lookahead::from(*replies)
            .field("edges")
            .field("node");
    }
    Ok((request, levels))
}

/// Comments read ahead for a page of a thread: every level's rows, by parent, each list
/// in its level's order.
#[derive(Default)]
pub struct ThreadPage {
    levels: Vec<comments::Level>,
    children: std::collections::HashMap<Option<CommentId>, Vec<Comment>>,
    depth: std::collections::HashMap<CommentId, usize>,
    authors: Vec<crate::domain::accounts::User>,
    primed: std::sync::atomic::AtomicBool,
}

impl ThreadPage {
    pub fn new(levels: Vec<comments::Level>, rows: Vec<comments::Listed>) -> Self {
        let mut children: std::collections::HashMap<Option<CommentId>, Vec<Comment>> =
            std::collections::HashMap::new();
        let mut depth = std::collections::HashMap::with_capacity(rows.len());
        let mut authors: std::collections::HashMap<UserId, crate::domain::accounts::User> =
            std::collections::HashMap::new();
        for row in rows {
            depth.insert(row.comment.id, usize::try_from(row.level).unwrap_or(0));
            if let Some(author) = row.author {
                authors.entry(author.id).or_insert(author);
            }
            children
                .entry(row.comment.parent_id)
                .or_default()
                .push(row.comment);
        }
        for list in children.values_mut() {
            if let Some(first) = list.first() {
                let level = depth.get(&first.id).copied().unwrap_or(0);
                if let Some(l) = levels.get(level) {
                    l.order.sort(list);
                }
            }
        }
        Self {
            levels,
            children,
            depth,
            authors: authors.into_values().collect(),
            primed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Hands the authors read with the comments to the request's member loader, once.
    fn prime(&self, ctx: &Context<'_>) {
        if !self.primed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            ctx.loaders()
                .users
                .feed_many(self.authors.iter().map(|u| (u.id, u.clone())));
        }
    }

    /// The page of `parent`'s children (the first level's when `None`) at `level`, with
    /// the length of the whole list (counted when asked for).
    fn connection(
        self: &Arc<Self>,
        request: crate::graphql::pagination::PageRequest<comments::Key>,
        ctx: &Context<'_>,
        (article, parent): (ArticleId, Option<CommentId>),
        level: usize,
        article_author: UserId,
    ) -> crate::error::AppResult<Conn<CommentNode>> {
        let rows: Vec<CommentNode> = self
            .children
            .get(&parent)
            .map(|list| {
                list.iter()
                    .filter(|c| self.depth.get(&c.id) == Some(&level))
                    .cloned()
                    .map(|comment| CommentNode {
                        comment,
                        thread: Some((self.clone(), level)),
                        article_author,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let counts = ctx.loaders().counts.clone();
        let key = match parent {
            Some(parent) => Counted::Replies(parent),
            None => Counted::RootComments(article),
        };
        let total =
            Total::later(async move { counts.load_one(key).await.map(Option::unwrap_or_default) });
        Ok(request
            .into_connection(rows, |c| comments::Key::of(&c.comment))?
            .counted(total))
    }
}

pub struct CommentNode {
    pub comment: Comment,
    /// The thread page it was listed from, with its level there: its replies may be read
    /// already. A comment reached on its own (a mutation's result, `node(id:)`, a
    /// notification, a live event) loads them when asked.
    pub thread: Option<(Arc<ThreadPage>, usize)>,
    pub article_author: UserId,
}

impl CommentNode {
    /// The comment with its id loaded, outside any thread, while its article is live;
    /// `None` when either is gone or the article is not live.
    pub async fn on_live_article(
        ctx: &Context<'_>,
        id: CommentId,
    ) -> async_graphql::Result<Option<Self>> {
        let Some(comment) = ctx.loaders().comments.load_one(id).await? else {
            return Ok(None);
        };
        let Some(article) = ctx
            .loaders()
            .articles
            .load_one(comment.article_id)
            .await?
            .filter(|a| a.is_live())
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            comment,
            thread: None,
            article_author: article.user_id,
        }))
    }
}

impl CommentNode {
    /// Whether the viewer may react to it, or reply to it when `replying` (which the
    /// article's author may have blocked them from): the loaders are asked only when the
    /// viewer could.
    async fn may_answer(&self, ctx: &Context<'_>, replying: bool) -> async_graphql::Result<bool> {
        let viewer = ctx.viewer();
        if !self.comment.may_answer(viewer, true, false) {
            return Ok(false);
        }
        let live = self.article(ctx).await?.is_some_and(|a| a.0.is_live());
        let blocked = replying && blocks_between(ctx, self.article_author).await?.1;
        Ok(self.comment.may_answer(viewer, live, blocked))
    }
}

impl NodeType for CommentNode {
    const TYPE_NAME: &'static str = "Comment";
    type Id = crate::ids::CommentId;
}

#[Object(name = "Comment")]
/// A comment on an article, or a reply to another comment (replies nest to any depth).
impl CommentNode {
    /// The comment's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.comment.id)
    }
    /// The rendered text; `[deleted]`, or a hidden note for others when the article's
    /// author hid it.
    async fn body_html(&self, ctx: &Context<'_>) -> String {
        if self.comment.deleted_at.is_some() {
            comments::DELETED.to_owned()
        } else if self
            .comment
            .text_visible_to(ctx.viewer(), self.article_author)
        {
            self.comment.body_html.clone()
        } else {
            comments::HIDDEN.to_owned()
        }
    }
    /// The Markdown as written; null when deleted, or when hidden and the viewer is neither its author nor the article's author.
    async fn body_markdown(&self, ctx: &Context<'_>) -> Option<&str> {
        self.comment
            .text_visible_to(ctx.viewer(), self.article_author)
            .then_some(self.comment.body_markdown.as_str())
    }
    /// Deleted by its author or a moderator: it stays in the thread as `[deleted]` so replies keep their place.
    async fn is_deleted(&self) -> bool {
        self.comment.deleted_at.is_some()
    }
    /// Hidden by the article's author or a moderator (and not deleted).
    async fn is_hidden(&self) -> bool {
        self.comment.hidden_at.is_some() && self.comment.deleted_at.is_none()
    }
    /// Null once the comment is deleted.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        if self.comment.deleted_at.is_some() {
            return Ok(None);
        }
        author(ctx, self.comment.user_id).await
    }
    /// 0 for a comment on the article, 1 for a reply to it, and so on.
    async fn depth(&self) -> i32 {
        self.comment.depth
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.comment.created_at
    }
    /// When its author last edited it; null when never.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.comment.edited_at
    }
    /// Every edit of its text, newest first, with a diff: empty to readers who may not
    /// read the text (deleted, or hidden from them), except moderators.
    #[graphql(name = "edits")]
    async fn edits(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
    ) -> async_graphql::Result<
        Conn<
            crate::graphql::types::revisions::RevisionNode,
            async_graphql::connection::EmptyFields,
        >,
    > {
        let readable = self
            .comment
            .text_visible_to(ctx.viewer(), self.article_author)
            || crate::domain::revisions::sees_redacted(ctx.viewer());
        if !readable {
            return Ok(Conn::new(false, false));
        }
        crate::graphql::types::revisions::page(
            ctx,
            crate::domain::revisions::Edited::Comment,
            self.comment.id.uuid(),
            first,
            after,
        )
        .await
    }
    /// The sum of its reactions' configured scores, less moderation penalties; orders TOP threads.
    async fn score(&self) -> i32 {
        self.comment.score
    }
    /// Reactions of every category.
    async fn reactions_count(&self) -> i32 {
        self.comment.reactions_count
    }
    /// Direct replies, deleted ones excluded (`replies.totalCount` counts the `[deleted]`
    /// placeholders too).
    async fn replies_count(&self) -> i32 {
        self.comment.replies_count
    }
    /// Public reactions per category, in the configured order.
    async fn reaction_counts(&self, ctx: &Context<'_>) -> Vec<ReactionCount> {
        reaction_counts(ctx, &self.comment.tallies)
    }
    /// The categories the signed-in member reacted with; empty when signed out.
    async fn viewer_reactions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        viewer_reactions(ctx, Reactable::Comment(self.comment.id)).await
    }
    /// The article it belongs to; null when that is not visible to the viewer.
    async fn article(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ArticleNode>> {
        Ok(ctx
            .loaders()
            .articles
            .load_one(self.comment.article_id)
            .await?
            .filter(|a| a.visible_to(ctx.viewer()))
            .map(ArticleNode))
    }
    /// Whether the signed-in member may edit it (`updateComment`): its author, unless
    /// suspended, while it is not deleted.
    async fn viewer_can_update(&self, ctx: &Context<'_>) -> bool {
        self.comment.may_update(ctx.viewer())
    }
    /// Whether the signed-in member may delete it: its author (unless suspended) or a
    /// moderator, while it is not deleted.
    async fn viewer_can_delete(&self, ctx: &Context<'_>) -> bool {
        self.comment.may_delete(ctx.viewer())
    }
    /// Whether the signed-in member may reply to it: it is not deleted, its article is
    /// live, they are not suspended and the article's author has not blocked them.
    async fn viewer_can_comment(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        self.may_answer(ctx, true).await
    }
    /// Whether the signed-in member may react to it: it is not deleted, its article is
    /// live and they are not suspended.
    async fn viewer_can_react(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        self.may_answer(ctx, false).await
    }
    /// A permalink: the article page's absolute URL with the comment's anchor
    /// (`#comment-<id>`); null when the article is not visible to the viewer.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let Some(article) = self.article(ctx).await? else {
            return Ok(None);
        };
        let page = article.url(ctx).await?;
        Ok(Some(format!(
            "{page}#comment-{}",
            Self::global_id(self.comment.id).as_str()
        )))
    }
    /// A page of direct replies, forward only like the thread: read with the page of the
    /// thread this comment was listed in when the selection asked for them there,
    /// otherwise with the replies of every comment of this level in one statement. A
    /// thread statement reads at most 5,000 comments, so their cost is bounded by it.
    #[graphql(complexity = "child_complexity + 1")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(
            default_with = "CommentOrder::Oldest",
            desc = "How the replies are ordered."
        )]
        order_by: CommentOrder,
    ) -> async_graphql::Result<Conn<CommentNode>> {
        let (request, levels) = plan_thread(ctx, ctx.look_ahead(), first, after, order_by)?;
        if let Some((page, level)) = &self.thread
            && page.levels.get(level + 1) == levels.first()
        {
            return Ok(page.connection(
                request,
                ctx,
                (self.comment.article_id, Some(self.comment.id)),
                level + 1,
                self.article_author,
            )?);
        }
        let page = ctx
            .loaders()
            .replies
            .load_one((self.comment.id, levels))
            .await?
            .unwrap_or_default();
        page.prime(ctx);
        let list = (self.comment.article_id, Some(self.comment.id));
        Ok(page.connection(request, ctx, list, 0, self.article_author)?)
    }
}

pub struct TagNode(pub Tag);

impl NodeType for TagNode {
    const TYPE_NAME: &'static str = "Tag";
    type Id = crate::ids::TagId;
}

/// Where an organization's draft stands in its editors' review.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// Waiting in the review queue.
    Pending,
    /// Sent back to its authors with a note.
    Returned,
}

#[Object(name = "Tag")]
/// A topic articles are filed under (`#rust`); members follow tags to fill their feed.
impl TagNode {
    /// The tag's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The tag's name: 1 to 30 lowercase letters and digits, without `#`.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What belongs under the tag, set by moderators (`updateTag`); may be empty.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// `#rrggbb`.
    async fn color(&self) -> Option<&str> {
        self.0.color.as_deref()
    }
    /// The tag's rules as its moderators wrote them, in Markdown; empty when it has none.
    /// Show them on the tag page and to a writer who picks the tag.
    async fn rules(&self) -> &str {
        &self.0.rules_markdown
    }
    /// The rules rendered to sanitised HTML.
    async fn rules_html(&self) -> &str {
        &self.0.rules_html
    }
    /// Other names that lead to this tag: an article tagged with one gets this tag.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    /// The members an admin appointed to moderate the tag: they adjust the tags of its
    /// articles, hide comments under them, handle their reports and describe the tag.
    async fn moderators(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UserNode>> {
        let ids = ctx
            .loaders()
            .tag_moderators
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        users_in_order(ctx, &ids).await
    }
    /// `/t/{name}`.
    async fn path(&self) -> String {
        format!("/t/{}", self.0.name)
    }
    /// The tag page's absolute URL on this instance.
    async fn url(&self, ctx: &Context<'_>) -> String {
        ctx.absolute_url(&format!("/t/{}", self.0.name))
    }
    /// Live articles with this tag.
    async fn articles_count(&self) -> i32 {
        self.0.articles_count
    }
    /// Members following it.
    async fn followers_count(&self) -> i32 {
        self.0.followers_count
    }
    /// Whether the signed-in member follows it; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        crate::graphql::loaders::viewer_follows(ctx, Followable::Tag(self.0.id)).await
    }
    /// Live articles with this tag, newest first.
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
            tag: Some(self.0.name.clone()),
            ..Default::default()
        };
        let args = PageArgs::new(first, after, last, before);
        article_page(ctx, &filter, args, Some(self.0.articles_count)).await
    }
}

/// One page of articles in publication order; the list's length is `counter` (a stored
/// counter of what `filter` keeps) or counted when asked for.
pub async fn article_page(
    ctx: &Context<'_>,
    filter: &listing::Filter,
    args: PageArgs,
    counter: Option<i32>,
) -> async_graphql::Result<Conn<ArticleNode>> {
    let request = ctx.page::<listing::ArticleKey>(args)?;
    let db = &ctx.state().db;
    let rows = listing::latest(db, filter, &request).await?;
    let total = match counter {
        Some(count) => Total::known(count),
        None => {
            let (db, filter) = (db.clone(), filter.clone());
            Total::later(async move { listing::count(&db, &filter).await })
        }
    };
    Ok(request
        .into_connection(rows.into_iter().map(ArticleNode).collect(), |a| {
            listing::key(&a.0)
        })?
        .counted(total))
}

/// The members of `ids` who still have an account, in that order, through the loader.
pub async fn users_in_order(
    ctx: &Context<'_>,
    ids: &[UserId],
) -> async_graphql::Result<Vec<UserNode>> {
    let users = ctx.loaders().users.load_many(ids.iter().copied()).await?;
    Ok(ids
        .iter()
        .filter_map(|id| users.get(id).cloned().map(UserNode))
        .collect())
}
