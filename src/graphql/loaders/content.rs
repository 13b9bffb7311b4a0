//! Loaders for articles, their tags, comment threads, reactions and follows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sqlx::PgPool;

use crate::config::Settings;
use crate::domain::articles::series::{self, Series};
use crate::domain::articles::{Article, listing};
use crate::domain::comments::{self, Comment};
use crate::domain::follows::{self, Followable};
use crate::domain::reactions::{self, Reactable};
use crate::domain::tags::{self, Tag};
use crate::error::AppError;
use crate::graphql::types::content::ThreadPage;
use crate::ids::{ArticleId, CommentId, SeriesId, TagId, UserId};

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<AppError>>;

fn shared(e: AppError) -> Arc<AppError> {
    Arc::new(e)
}

/// Articles by id, whatever their status: resolvers check visibility.
pub struct ArticleLoader(pub PgPool);

impl Loader<ArticleId> for ArticleLoader {
    type Value = Article;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ArticleId]) -> LoadResult<ArticleId, Article> {
        let rows = listing::by_ids(&self.0, keys).await.map_err(shared)?;
        Ok(rows.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// Articles by id with what the selection reads along with them (their authors, tags),
/// in one statement per kind of selection.
pub struct ArticleWithLoader(pub PgPool);

impl Loader<(ArticleId, listing::Includes)> for ArticleWithLoader {
    type Value = (Article, listing::Extras);
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[(ArticleId, listing::Includes)],
    ) -> LoadResult<(ArticleId, listing::Includes), (Article, listing::Extras)> {
        let mut groups: HashMap<listing::Includes, Vec<ArticleId>> = HashMap::new();
        for (id, includes) in keys {
            groups.entry(*includes).or_default().push(*id);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (includes, ids) in groups {
            for (article, extras) in listing::by_ids_with(&self.0, &ids, includes)
                .await
                .map_err(shared)?
            {
                out.insert((article.id, includes), (article, extras));
            }
        }
        Ok(out)
    }
}

pub struct TagLoader(pub PgPool);

impl Loader<TagId> for TagLoader {
    type Value = Tag;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[TagId]) -> LoadResult<TagId, Tag> {
        let rows = tags::by_ids(&self.0, keys).await.map_err(shared)?;
        Ok(rows.into_iter().map(|t| (t.id, t)).collect())
    }
}

/// The tags of each article, in order.
pub struct ArticleTagsLoader(pub PgPool);

impl Loader<ArticleId> for ArticleTagsLoader {
    type Value = Vec<Tag>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ArticleId]) -> LoadResult<ArticleId, Vec<Tag>> {
        tags::of_articles(&self.0, keys).await.map_err(shared)
    }
}

/// A page of an article's or a comment's revisions: what was edited, whose, the page's
/// start (`None`: the newest) and how many rows to read.
pub type RevisionsKey = (
    crate::domain::revisions::Edited,
    uuid::Uuid,
    Option<crate::ids::RevisionId>,
    i64,
);

/// Pages of revisions for every article and comment of a request, one statement per kind.
pub struct RevisionsLoader(pub PgPool);

impl Loader<RevisionsKey> for RevisionsLoader {
    type Value = Vec<crate::domain::revisions::Revision>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[RevisionsKey],
    ) -> LoadResult<RevisionsKey, Vec<crate::domain::revisions::Revision>> {
        use crate::domain::revisions::{self, Edited};
        let mut found = HashMap::new();
        for edited in [Edited::Article, Edited::Comment] {
            let wanted: Vec<(uuid::Uuid, Option<crate::ids::RevisionId>, i64)> = keys
                .iter()
                .filter(|k| k.0 == edited)
                .map(|k| (k.1, k.2, k.3))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let pages = revisions::pages(&self.0, edited, &wanted)
                .await
                .map_err(shared)?;
            for ((subject, after, limit), page) in wanted.into_iter().zip(pages) {
                found.insert((edited, subject, after, limit), page);
            }
        }
        Ok(found)
    }
}

/// Organizations by id.
pub struct OrganizationLoader(pub PgPool);

impl Loader<crate::ids::OrganizationId> for OrganizationLoader {
    type Value = crate::domain::organizations::Organization;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[crate::ids::OrganizationId],
    ) -> LoadResult<crate::ids::OrganizationId, crate::domain::organizations::Organization> {
        let found = crate::domain::organizations::by_ids(&self.0, keys)
            .await
            .map_err(shared)?;
        Ok(found.into_iter().map(|o| (o.id, o)).collect())
    }
}

/// What an organization lists, read for every organization of a request at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgList {
    Members,
    /// Its pending invitations (the caller checks the viewer owns it).
    Invitations,
    /// Its review queue (the caller checks the viewer edits there).
    ReviewQueue,
}

/// The lists of each organization, by kind: one statement per kind asked for.
pub struct OrgListsLoader(pub PgPool);

/// One organization's list of some kind.
#[derive(Clone)]
pub enum OrgListed {
    Members(Vec<crate::domain::organizations::Membership>),
    Invitations(Vec<crate::domain::organizations::Invitation>),
    ReviewQueue(Vec<Article>),
}

impl Loader<(crate::ids::OrganizationId, OrgList)> for OrgListsLoader {
    type Value = OrgListed;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[(crate::ids::OrganizationId, OrgList)],
    ) -> LoadResult<(crate::ids::OrganizationId, OrgList), OrgListed> {
        use crate::domain::organizations as orgs;
        let mut found = HashMap::new();
        for kind in [OrgList::Members, OrgList::Invitations, OrgList::ReviewQueue] {
            let ids: Vec<crate::ids::OrganizationId> =
                keys.iter().filter(|k| k.1 == kind).map(|k| k.0).collect();
            if ids.is_empty() {
                continue;
            }
            let db = &self.0;
            match kind {
                OrgList::Members => {
                    let rows = orgs::members_of(db, &ids).await.map_err(shared)?;
                    let mut by = group(rows, |m| Some(m.organization_id));
                    for id in ids {
                        let list = by.remove(&id).unwrap_or_default();
                        found.insert((id, kind), OrgListed::Members(list));
                    }
                }
                OrgList::Invitations => {
                    let rows = orgs::invitations_to(db, &ids).await.map_err(shared)?;
                    let mut by = group(rows, |i| Some(i.organization_id));
                    for id in ids {
                        let list = by.remove(&id).unwrap_or_default();
                        found.insert((id, kind), OrgListed::Invitations(list));
                    }
                }
                OrgList::ReviewQueue => {
                    let rows = crate::domain::articles::service::review_queues(db, &ids)
                        .await
                        .map_err(shared)?;
                    let mut by = group(rows, |a| a.organization_id);
                    for id in ids {
                        let list = by.remove(&id).unwrap_or_default();
                        found.insert((id, kind), OrgListed::ReviewQueue(list));
                    }
                }
            }
        }
        Ok(found)
    }
}

/// `rows` grouped by the key `of` gives them (rows without one are dropped), in order.
fn group<K: std::hash::Hash + Eq, T>(
    rows: Vec<T>,
    of: impl Fn(&T) -> Option<K>,
) -> HashMap<K, Vec<T>> {
    let mut by: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        if let Some(key) = of(&row) {
            by.entry(key).or_default().push(row);
        }
    }
    by
}

/// Members invited to co-author each article who have not answered.
pub struct PendingCoAuthorsLoader(pub PgPool);

impl Loader<ArticleId> for PendingCoAuthorsLoader {
    type Value = Vec<UserId>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ArticleId]) -> LoadResult<ArticleId, Vec<UserId>> {
        let rows = crate::domain::articles::authors::pending(&self.0, keys)
            .await
            .map_err(shared)?;
        Ok(group(rows, |(article, _)| Some(*article))
            .into_iter()
            .map(|(article, pairs)| (article, pairs.into_iter().map(|(_, user)| user).collect()))
            .collect())
    }
}

/// The viewer's role in each organization (absent where they are not a member).
pub struct OrgRoleLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
}

impl Loader<crate::ids::OrganizationId> for OrgRoleLoader {
    type Value = crate::domain::organizations::OrgRole;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[crate::ids::OrganizationId],
    ) -> LoadResult<crate::ids::OrganizationId, crate::domain::organizations::OrgRole> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let found = crate::domain::organizations::roles_of(&self.db, viewer, keys)
            .await
            .map_err(shared)?;
        Ok(found.into_iter().collect())
    }
}

/// The moderators of each tag, earliest appointed first.
pub struct TagModeratorsLoader(pub PgPool);

impl Loader<crate::ids::TagId> for TagModeratorsLoader {
    type Value = Vec<UserId>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[crate::ids::TagId]) -> LoadResult<crate::ids::TagId, Vec<UserId>> {
        tags::moderators_of(&self.0, keys).await.map_err(shared)
    }
}

/// Pages of replies, for comments whose replies were not read with their thread page:
/// keyed by the parent and the levels asked for (see [`comments::thread_page`]); one
/// statement for every parent of a batch that asks the same.
pub struct RepliesLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
}

pub type RepliesKey = (CommentId, Vec<comments::Level>);

impl Loader<RepliesKey> for RepliesLoader {
    type Value = Arc<ThreadPage>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[RepliesKey]) -> LoadResult<RepliesKey, Arc<ThreadPage>> {
        let mut groups: HashMap<&[comments::Level], Vec<CommentId>> = HashMap::new();
        for (parent, levels) in keys {
            groups.entry(levels).or_default().push(*parent);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (levels, parents) in groups {
            let rows = comments::replies_page(&self.db, &parents, self.viewer, levels)
                .await
                .map_err(shared)?;
            let page = Arc::new(ThreadPage::new(levels.to_vec(), rows));
            for parent in parents {
                out.insert((parent, levels.to_vec()), page.clone());
            }
        }
        Ok(out)
    }
}

/// Comments by id (one query per batch), for `node(id:)`.
pub struct CommentLoader(pub PgPool);

impl Loader<CommentId> for CommentLoader {
    type Value = Comment;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[CommentId]) -> LoadResult<CommentId, Comment> {
        let rows: Vec<Comment> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM comments WHERE id = ANY($1)",
            comments::COLUMNS
        )))
        .bind(keys)
        .fetch_all(&self.0)
        .await
        .map_err(|e| shared(e.into()))?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Public reaction counts per item.
pub struct ReactionCountsLoader {
    pub db: PgPool,
    pub settings: Arc<Settings>,
}

impl Loader<Reactable> for ReactionCountsLoader {
    type Value = Vec<(String, i32)>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Reactable]) -> LoadResult<Reactable, Vec<(String, i32)>> {
        reactions::counts(&self.db, &self.settings, keys)
            .await
            .map_err(shared)
    }
}

/// The viewer's reactions per item. Built per request for one viewer.
pub struct ViewerReactionsLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
}

impl Loader<Reactable> for ViewerReactionsLoader {
    type Value = Vec<String>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Reactable]) -> LoadResult<Reactable, Vec<String>> {
        match self.viewer {
            Some(viewer) => reactions::of_viewer(&self.db, viewer, keys)
                .await
                .map_err(shared),
            None => Ok(HashMap::new()),
        }
    }
}

/// Whether the viewer follows each member or tag. Built per request for one viewer.
pub struct FollowingLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
    /// Everything the viewer follows, read at the first question when it is a short list
    /// (`Some(None)` when it is not): later batches of the request need no statement.
    /// Emptied by [`FollowingLoader::forget`] after a write.
    pub all: std::sync::Mutex<Option<Arc<Option<HashSet<Followable>>>>>,
}

impl FollowingLoader {
    pub fn new(db: PgPool, viewer: Option<UserId>) -> Self {
        Self {
            db,
            viewer,
            all: std::sync::Mutex::new(None),
        }
    }

    /// Forgets the follows read so far: the next question reads them again.
    pub fn forget(&self) {
        *self
            .all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    async fn all_followed(
        &self,
        viewer: UserId,
    ) -> Result<Arc<Option<HashSet<Followable>>>, AppError> {
        let known = self
            .all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(all) = known {
            return Ok(all);
        }
        let all = Arc::new(follows::all_followed(&self.db, viewer, ALL_FOLLOWED_CAP).await?);
        *self
            .all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(all.clone());
        Ok(all)
    }
}

/// Above this many follows, the loader asks about the keys of each batch instead.
const ALL_FOLLOWED_CAP: usize = 2_000;

impl Loader<Followable> for FollowingLoader {
    type Value = bool;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Followable]) -> LoadResult<Followable, bool> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|k| (*k, false)).collect());
        };
        let all = self.all_followed(viewer).await.map_err(shared)?;
        let followed: HashSet<Followable> = match all.as_ref() {
            Some(all) => keys.iter().copied().filter(|k| all.contains(k)).collect(),
            None => follows::followed_by(&self.db, viewer, keys)
                .await
                .map_err(shared)?,
        };
        Ok(keys.iter().map(|k| (*k, followed.contains(k))).collect())
    }
}

/// A series: its record and its live articles in order.
pub struct SeriesLoader(pub PgPool);

impl Loader<SeriesId> for SeriesLoader {
    type Value = (Series, Vec<Article>);
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[SeriesId]) -> LoadResult<SeriesId, (Series, Vec<Article>)> {
        let found = series::by_ids(&self.0, keys).await.map_err(shared)?;
        let articles = listing::of_series(&self.0, keys).await.map_err(shared)?;
        let mut map: HashMap<SeriesId, (Series, Vec<Article>)> =
            found.into_iter().map(|s| (s.id, (s, Vec::new()))).collect();
        for article in articles {
            if let Some(series_id) = article.series_id
                && let Some(entry) = map.get_mut(&series_id)
            {
                entry.1.push(article);
            }
        }
        Ok(map)
    }
}

/// A count of the rows of a nested list, for its connection's `totalCount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// An article's root comments, as its thread shows the viewer.
    RootComments(ArticleId),
    /// A comment's direct replies, as they show the viewer.
    Replies(CommentId),
    /// The tags a member follows.
    FollowedTags(UserId),
    /// A member's series the viewer may see.
    Series(UserId),
}

/// Counts of nested lists: one statement for each kind of list in a batch.
pub struct CountLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
}

impl Loader<Counted> for CountLoader {
    type Value = i64;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Counted]) -> LoadResult<Counted, i64> {
        let (mut articles, mut comments, mut members) = (Vec::new(), Vec::new(), Vec::new());
        let mut authors = Vec::new();
        for key in keys {
            match *key {
                Counted::RootComments(id) => articles.push(id),
                Counted::Replies(id) => comments.push(id),
                Counted::FollowedTags(id) => members.push(id),
                Counted::Series(id) => authors.push(id),
            }
        }
        let mut counts = HashMap::new();
        if !articles.is_empty() {
            let rows = comments::root_counts(&self.db, &articles, self.viewer)
                .await
                .map_err(shared)?;
            counts.extend(
                rows.into_iter()
                    .map(|(id, n)| (Counted::RootComments(id), n)),
            );
        }
        if !comments.is_empty() {
            let rows = comments::reply_counts(&self.db, &comments, self.viewer)
                .await
                .map_err(shared)?;
            counts.extend(rows.into_iter().map(|(id, n)| (Counted::Replies(id), n)));
        }
        if !members.is_empty() {
            let rows = follows::followed_tag_counts(&self.db, &members)
                .await
                .map_err(shared)?;
            counts.extend(
                rows.into_iter()
                    .map(|(id, n)| (Counted::FollowedTags(id), n)),
            );
        }
        Ok(counts)
    }
}

/// Blocks between the viewer and other members: whether the viewer blocked each, and
/// whether each blocked the viewer (both false when signed out).
pub struct BlockLoader {
    pub db: PgPool,
    pub viewer: Option<UserId>,
}

impl Loader<UserId> for BlockLoader {
    type Value = (bool, bool);
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[UserId]) -> LoadResult<UserId, (bool, bool)> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let rows = crate::domain::blocks::between(&self.db, viewer, keys)
            .await
            .map_err(shared)?;
        Ok(rows
            .into_iter()
            .map(|(id, blocked, blocker)| (id, (blocked, blocker)))
            .collect())
    }
}

/// The articles each feed source made, newest first (at most 20 per source), in one
/// statement for all the sources asked for.
pub struct SourceArticlesLoader(pub PgPool);

impl Loader<uuid::Uuid> for SourceArticlesLoader {
    type Value = Vec<ArticleId>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[uuid::Uuid]) -> LoadResult<uuid::Uuid, Vec<ArticleId>> {
        let rows = crate::domain::imports::articles_of(&self.0, keys, 20)
            .await
            .map_err(shared)?;
        let mut out: HashMap<uuid::Uuid, Vec<ArticleId>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (source, article) in rows {
            out.entry(source).or_default().push(article);
        }
        Ok(out)
    }
}
