//! Feeds: LATEST (newest first, above a minimum score), TOP (by score within a period),
//! RELEVANT (the stored hot rank, see the `hot_rank` SQL function, boosted for what the
//! member follows) and FOLLOWING (followed members and tags, newest first). Keyset pages
//! on the feed's own order, so new articles arriving between pages shift nothing already
//! listed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::config::Settings;
use crate::domain::articles::listing::{Extras, Includes};
use crate::domain::articles::model::{Article, LIST_COLUMNS};
use crate::domain::page::{PageRequest, Window, capped_count_sql};
use crate::error::{AppError, AppResult};
use crate::ids::{ArticleId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedType {
    Relevant,
    Latest,
    Top,
    Following,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week,
    Month,
    Year,
    /// Five years, as in Forem.
    Infinity,
}

impl Period {
    fn days(self) -> i32 {
        match self {
            Self::Week => 7,
            Self::Month => 30,
            Self::Year => 365,
            Self::Infinity => 5 * 365,
        }
    }
}

/// The sort key of an article in a feed: (rank, published_at, id), rank being the hot
/// rank, the score, or 0 for time-ordered feeds.
pub type FeedKey = (f64, DateTime<Utc>, ArticleId);

#[derive(sqlx::FromRow)]
struct Ranked {
    #[sqlx(flatten)]
    article: Article,
    rank: f64,
    #[sqlx(flatten)]
    extras: Extras,
}

/// Which feed, for whom.
#[derive(Debug, Clone, Copy)]
pub struct Which<'a> {
    pub kind: FeedType,
    pub period: Period,
    pub tag: Option<&'a str>,
    pub viewer: Option<UserId>,
}

/// The live articles any feed may show viewer `$1` (none of a member they blocked), with
/// tag `$2` when it is given.
const LIVE: &str = "FROM articles a JOIN users u ON u.id = a.user_id
     WHERE a.status = 'published' AND u.deleted_at IS NULL AND u.role <> 'suspended'
       AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $1 AND b.blocked_id = a.user_id)
       AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM article_tags at JOIN tags t ON t.id = at.tag_id
                                       WHERE at.article_id = a.id AND t.name = $2))";

/// Whether viewer `$1` follows one of an article's authors, its organization or one of its
/// tags: the two lists are
/// read once per statement (each a scalar subquery), then checked per article as an index
/// walk reaches it; tags through the names each article carries.
const FOLLOWED: &str = "(a.user_id = ANY((SELECT coalesce(array_agg(followable_id), '{}') FROM follows
                                  WHERE follower_id = $1 AND followable_type = 'user')::uuid[])
    OR a.co_author_ids && (SELECT coalesce(array_agg(followable_id), '{}') FROM follows
                           WHERE follower_id = $1 AND followable_type = 'user')::uuid[]
    OR a.organization_id = ANY((SELECT coalesce(array_agg(followable_id), '{}') FROM follows
                                WHERE follower_id = $1 AND followable_type = 'organization')::uuid[])
    OR a.tag_names && (SELECT coalesce(array_agg(t.name), '{}') FROM follows f JOIN tags t ON t.id = f.followable_id
                       WHERE f.follower_id = $1 AND f.followable_type = 'tag'))";

fn tag_name(tag: Option<&str>) -> Option<String> {
    tag.map(|t| t.trim().trim_start_matches('#').to_lowercase())
}

/// How many articles a feed holds in all its pages (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count(db: &PgPool, settings: &Settings, which: Which<'_>) -> AppResult<i64> {
    let scope = match which.kind {
        FeedType::Latest => format!("a.score >= {}", settings.feeds.latest_min_score),
        FeedType::Top => "a.published_at > now() - make_interval(days => $3)".to_owned(),
        FeedType::Relevant => format!(
            "a.published_at > now() - make_interval(days => {})",
            settings.feeds.relevant_days
        ),
        FeedType::Following => FOLLOWED.to_owned(),
    };
    let sql = capped_count_sql(&format!("{LIVE} AND {scope}"));
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(which.viewer)
        .bind(tag_name(which.tag))
        .bind(which.period.days())
        .fetch_one(db)
        .await?)
}

/// A page of a feed, each article with what `includes` asks for.
pub async fn feed(
    db: &PgPool,
    settings: &Settings,
    which: Which<'_>,
    page: &PageRequest<FeedKey>,
    includes: Includes,
) -> AppResult<Vec<(FeedKey, Article, Extras)>> {
    let Which {
        kind,
        period,
        tag,
        viewer,
    } = which;
    if kind == FeedType::Following && viewer.is_none() {
        return Err(AppError::Unauthenticated(
            "Sign in to see the articles you follow".to_owned(),
        ));
    }
    let boost = settings.feeds.followed_boost;
    let relevant_window = format!(
        "a.published_at > now() - make_interval(days => {})",
        settings.feeds.relevant_days
    );
    let followed = FOLLOWED;
    // Each feed is one or two branches, each an index walk in its own order that stops at
    // the page: (how an article ranks, the column that rank follows, if it is not the
    // same for all, which articles).
    let branches: Vec<(String, &str, String)> = match kind {
        FeedType::Latest => vec![(
            "0::float8".to_owned(),
            "",
            format!("a.score >= {}", settings.feeds.latest_min_score),
        )],
        FeedType::Top => vec![(
            "a.score::float8".to_owned(),
            "a.score",
            "a.published_at > now() - make_interval(days => $8)".to_owned(),
        )],
        // What the viewer follows ranks `boost` times higher: the best of the followed
        // articles so boosted, merged with the best of the others.
        FeedType::Relevant if viewer.is_some() => vec![
            (
                format!("a.hot_score * {boost}::float8"),
                "a.hot_score",
                format!("{relevant_window} AND {followed}"),
            ),
            (
                "a.hot_score".to_owned(),
                "a.hot_score",
                format!("{relevant_window} AND NOT {followed}"),
            ),
        ],
        FeedType::Relevant => vec![("a.hot_score".to_owned(), "a.hot_score", relevant_window)],
        FeedType::Following => vec![("0::float8".to_owned(), "", followed.to_owned())],
    };
    let Window {
        after,
        before,
        cmp_after,
        cmp_before,
        order,
    } = page.newest_first();
    let columns = crate::domain::articles::model::qualified(LIST_COLUMNS);
    let branch = |(rank, walk, filter): &(String, &str, String)| {
        let walk = if walk.is_empty() {
            String::new()
        } else {
            format!("{walk} {order}, ")
        };
        format!(
            "(SELECT {columns}, {rank} AS rank {LIVE} AND {filter}
                AND ($3::float8 IS NULL OR ({rank}, a.published_at, a.id) {cmp_after} ($3, $4, $5))
                AND ($6::float8 IS NULL OR ({rank}, a.published_at, a.id) {cmp_before} ($6, $7, $9))
              ORDER BY {walk}a.published_at {order}, a.id {order} LIMIT $10)"
        )
    };
    let page_sql = format!(
        "SELECT * FROM ({}) ranked
         ORDER BY rank {order}, published_at {order}, id {order} LIMIT $10",
        branches
            .iter()
            .map(branch)
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    );
    // Authors and tags for the page's rows only, once it is cut.
    let sql = includes.wrap(
        &page_sql,
        Some(&format!(
            "p.rank {order}, p.published_at {order}, p.id {order}"
        )),
    );

    let rows = sqlx::query_as::<_, Ranked>(sqlx::AssertSqlSafe(sql))
        .bind(viewer)
        .bind(tag_name(tag))
        .bind(after.map(|k| k.0))
        .bind(after.map(|k| k.1))
        .bind(after.map(|k| k.2))
        .bind(before.map(|k| k.0))
        .bind(before.map(|k| k.1))
        .bind(period.days())
        .bind(before.map(|k| k.2))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                (
                    r.rank,
                    r.article.published_at.unwrap_or(r.article.created_at),
                    r.article.id,
                ),
                r.article,
                r.extras,
            )
        })
        .collect())
}
