use async_graphql::{Context, Enum, Object};

use crate::domain::feeds::{self, FeedKey, FeedType, Period};
use crate::graphql::context::ContextExt as _;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::content::ArticleNode;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "FeedType")]
/// Which feed to read.
pub enum FeedTypeValue {
    /// The home feed: hot rank, boosted for what the member follows.
    Relevant,
    /// Newest first.
    Latest,
    /// Highest score within the period.
    Top,
    /// Followed members and tags, newest first (signed in).
    Following,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "FeedPeriod")]
/// The time window of a feed.
pub enum PeriodValue {
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// The last 365 days.
    Year,
    /// Five years.
    Infinity,
}

#[derive(Default)]
pub struct FeedQuery;

#[Object]
impl FeedQuery {
    /// Articles for the home page: RELEVANT (the default), LATEST, TOP or FOLLOWING. Signed out, the first page of each feed is served from a cache shared by every node.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            name = "type",
            default_with = "FeedTypeValue::Relevant",
            desc = "Which feed: RELEVANT, LATEST, TOP or FOLLOWING (signed in)."
        )]
        kind: FeedTypeValue,
        #[graphql(desc = "The window of TOP (the others ignore it); a week when left out.")]
        period: Option<PeriodValue>,
        #[graphql(desc = "Only articles with this tag.")] tag: Option<String>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ArticleNode>> {
        let state = ctx.state();
        let page = ctx.page::<FeedKey>(PageArgs::new(first, after, last, before))?;
        let kind = match kind {
            FeedTypeValue::Relevant => FeedType::Relevant,
            FeedTypeValue::Latest => FeedType::Latest,
            FeedTypeValue::Top => FeedType::Top,
            FeedTypeValue::Following => FeedType::Following,
        };
        let period = match period.unwrap_or(PeriodValue::Week) {
            PeriodValue::Week => Period::Week,
            PeriodValue::Month => Period::Month,
            PeriodValue::Year => Period::Year,
            PeriodValue::Infinity => Period::Infinity,
        };
        let viewer = ctx.viewer().map(|v| v.user_id);
        let includes = crate::graphql::loaders::includes(ctx.look_ahead());
        let rows = feeds::feed(
            &state.db,
            &state.settings,
            feeds::Which {
                kind,
                period,
                tag: tag.as_deref(),
                viewer,
            },
            &page,
            includes,
        )
        .await?;
        ctx.loaders()
            .prime(&rows.iter().map(|(_, a, x)| (a, x)).collect::<Vec<_>>());
        let nodes = rows
            .into_iter()
            .map(|(key, article, _)| (key, ArticleNode(article)))
            .collect();
        let total = Total::later({
            let (db, settings) = (state.db.clone(), state.settings.clone());
            async move {
                let which = feeds::Which {
                    kind,
                    period,
                    tag: tag.as_deref(),
                    viewer,
                };
                feeds::count(&db, &settings, which).await
            }
        });
        Ok(page.into_keyed_connection(nodes)?.counted(total))
    }
}
