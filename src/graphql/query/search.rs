use async_graphql::{Context, Enum, Object, Union};

use crate::domain::search::{self, Hit, Kind};
use crate::graphql::context::ContextExt as _;
use async_graphql::connection::EmptyFields;

use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::content::{ArticleNode, TagNode};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// What kinds of object a search looks for.
pub enum SearchType {
    /// Live articles (full text of title, tags and body).
    Article,
    /// Members (username and name).
    User,
    /// Tags (name).
    Tag,
}

#[derive(Union)]
/// An object a search found.
pub enum SearchNode {
    Article(ArticleNode),
    User(UserNode),
    Tag(TagNode),
}

pub struct SearchHit {
    node: SearchNode,
    rank: f32,
    highlight: Option<String>,
}

#[Object]
/// One search result: the object found, its relevance and the matching passages.
impl SearchHit {
    /// The article, member or tag found.
    async fn node(&self) -> &SearchNode {
        &self.node
    }
    /// Relevance, 0 to 1.
    async fn rank(&self) -> f32 {
        self.rank
    }
    /// For articles: the matching passages, HTML-escaped, matches in `<mark>`.
    async fn highlight(&self) -> Option<&str> {
        self.highlight.as_deref()
    }
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Articles (full text: `"exact phrase"`, `-excluded`, `or`), members and tags
    /// (prefixes and near spellings), best first. Results are ranked, not counted: the
    /// connection has no `totalCount`, and pages forward only, up to the 500th result.
    #[graphql(
        complexity = "crate::graphql::pagination::SEARCH_COST + crate::graphql::pagination::connection(first, None, child_complexity)"
    )]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to look for (1 to 200 characters).")] query: String,
        #[graphql(desc = "What to look for; all kinds when left out.")] types: Option<
            Vec<SearchType>,
        >,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
    ) -> async_graphql::Result<Conn<SearchHit, EmptyFields>> {
        let page = ctx.page::<usize>(PageArgs::forward(first, after))?;
        let offset = page.after.map_or(0, |a| a + 1);
        let types =
            types.unwrap_or_else(|| vec![SearchType::Article, SearchType::User, SearchType::Tag]);
        let kinds: Vec<Kind> = types
            .iter()
            .map(|t| match t {
                SearchType::Article => Kind::Article,
                SearchType::User => Kind::User,
                SearchType::Tag => Kind::Tag,
            })
            .collect();
        let limit = usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX);
        let state = ctx.state();
        let hits = search::search(&state.db, &state.search, &query, &kinds, offset, limit).await?;
        let user_ids: Vec<crate::ids::UserId> = hits
            .iter()
            .filter_map(|h| {
                if let Hit::User { id, .. } = h {
                    Some(*id)
                } else {
                    None
                }
            })
            .collect();
        let tag_ids: Vec<crate::ids::TagId> = hits
            .iter()
            .filter_map(|h| {
                if let Hit::Tag { id, .. } = h {
                    Some(*id)
                } else {
                    None
                }
            })
            .collect();
        let users = ctx.loaders().users.load_many(user_ids).await?;
        let tags = ctx.loaders().tags.load_many(tag_ids).await?;
        let mut nodes = Vec::with_capacity(hits.len());
        for (i, hit) in hits.into_iter().enumerate() {
            let rank = hit.rank();
            let node = match hit {
                Hit::Article {
                    article, highlight, ..
                } => Some((SearchNode::Article(ArticleNode(*article)), Some(highlight))),
                Hit::User { id, .. } => users
                    .get(&id)
                    .cloned()
                    .map(|u| (SearchNode::User(UserNode(u)), None)),
                Hit::Tag { id, .. } => tags
                    .get(&id)
                    .cloned()
                    .map(|t| (SearchNode::Tag(TagNode(t)), None)),
            };
            if let Some((node, highlight)) = node {
                nodes.push((
                    offset + i,
                    SearchHit {
                        node,
                        rank,
                        highlight,
                    },
                ));
            }
        }
        Ok(page.into_keyed_connection(nodes)?)
    }
}
