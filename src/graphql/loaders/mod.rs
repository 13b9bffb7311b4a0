//! DataLoaders: every relation and count is fetched for a whole batch in one query. Built
//! per request (or per WebSocket connection), so their caches never cross members.

pub mod batch;
pub mod content;
pub mod records;
pub mod users;

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;

use self::batch::Batch;
use self::records::Records;
use crate::config::Settings;
use crate::domain::accounts::repo::{self, ApiKeyRow, SessionRow};
use crate::domain::articles::Article;
use crate::domain::articles::listing::{Extras, Includes};
use crate::domain::media::{self, Image};
use crate::domain::moderation::{self, AuditEntry, Report};
use crate::domain::notifications::{self, Notification};
use crate::domain::{imports, webhooks};
use crate::ids::{
    ApiKeyId, ArticleId, AuditEntryId, CommentId, ImageId, NotificationId, ReportId, SessionId,
    TagId, UserId,
};

/// What the selection under `field` (an article, or a connection of them) asks for that a
/// list can read along with its articles.
pub fn includes(field: async_graphql::Lookahead<'_>) -> Includes {
    let node = field.field("edges").field("node");
    Includes {
        author: field.field("author").exists() || node.field("author").exists(),
    }
}

/// The loaders of one request (or one WebSocket connection): batched as the request's
/// resolvers are polled (see [`batch`]), cached for its length.
pub struct Loaders {
    pub users: Batch<UserId, users::UserLoader>,
    pub articles: Batch<ArticleId, content::ArticleLoader>,
    pub articles_with: Batch<(ArticleId, Includes), content::ArticleWithLoader>,
    pub tags: Batch<TagId, content::TagLoader>,
    pub article_tags: Batch<ArticleId, content::ArticleTagsLoader>,
    /// Organizations by id.
    pub organizations: Batch<crate::ids::OrganizationId, content::OrganizationLoader>,
    /// Organizations' members, invitations and review queues.
    pub org_lists: Batch<(crate::ids::OrganizationId, content::OrgList), content::OrgListsLoader>,
    /// Members invited to co-author articles.
    pub pending_co_authors: Batch<ArticleId, content::PendingCoAuthorsLoader>,
    /// The viewer's role in organizations.
    pub org_roles: Batch<crate::ids::OrganizationId, content::OrgRoleLoader>,
    /// Pages of revisions of articles and comments.
    pub revisions: Batch<content::RevisionsKey, content::RevisionsLoader>,
    /// The moderators of each tag.
    pub tag_moderators: Batch<TagId, content::TagModeratorsLoader>,
    pub replies: Batch<content::RepliesKey, content::RepliesLoader>,
    pub comments: Batch<CommentId, content::CommentLoader>,
    pub reaction_counts: Batch<crate::domain::reactions::Reactable, content::ReactionCountsLoader>,
    pub viewer_reactions:
        Batch<crate::domain::reactions::Reactable, content::ViewerReactionsLoader>,
    pub following: Batch<crate::domain::follows::Followable, content::FollowingLoader>,
    pub series: Batch<crate::ids::SeriesId, content::SeriesLoader>,
    /// Blocks between the viewer and other members.
    pub blocks: Batch<UserId, content::BlockLoader>,
    /// The lengths of nested lists, for their `totalCount`.
    pub counts: Batch<content::Counted, content::CountLoader>,
    /// The viewer's own sessions.
    pub sessions: Batch<SessionId, Records<SessionId, SessionRow>>,
    /// The viewer's own API keys.
    pub api_keys: Batch<ApiKeyId, Records<ApiKeyId, ApiKeyRow>>,
    /// The viewer's own notifications, as their list shows them.
    pub notifications: Batch<NotificationId, Records<NotificationId, Notification>>,
    /// The viewer's own images.
    pub images: Batch<ImageId, Records<ImageId, Image>>,
    /// Reports by id (the caller checks the viewer moderates).
    pub reports: Batch<ReportId, Records<ReportId, Report>>,
    /// Audit entries by id (the caller checks the viewer is an admin).
    pub audit_entries: Batch<AuditEntryId, Records<AuditEntryId, AuditEntry>>,
    /// The viewer's own webhooks.
    pub webhooks: Batch<Uuid, Records<Uuid, webhooks::Webhook>>,
    /// The deliveries of the viewer's own webhooks.
    pub webhook_deliveries: Batch<Uuid, Records<Uuid, webhooks::Delivery>>,
    /// The viewer's notification settings.
    pub notification_settings: Batch<UserId, Records<UserId, notifications::NotificationSettings>>,
    /// The viewer's levels for article threads.
    pub thread_levels: Batch<ArticleId, Records<ArticleId, notifications::ThreadSubscription>>,
    /// The viewer's own feed sources.
    pub feed_sources: Batch<Uuid, Records<Uuid, imports::Source>>,
    /// The viewer's own linked provider accounts.
    pub identities: Batch<Uuid, Records<Uuid, crate::domain::accounts::identities::Identity>>,
    /// The viewer's own data exports.
    pub data_exports: Batch<Uuid, Records<Uuid, crate::domain::portability::DataExport>>,
    /// The articles each feed source made.
    pub source_articles: Batch<Uuid, content::SourceArticlesLoader>,
}

/// Loaders shared by every subscription of this process, without a cache: when one event
/// reaches a thousand subscribers, their thousand re-reads of the entity become one query.
/// Nothing is cached, so nothing is shared between members but the batching.
pub struct EventLoaders {
    pub articles: DataLoader<content::ArticleLoader>,
    pub comments: DataLoader<content::CommentLoader>,
    pub reaction_counts: DataLoader<content::ReactionCountsLoader>,
}

impl EventLoaders {
    pub fn new(db: &PgPool, settings: &Arc<Settings>) -> Self {
        let delay = Duration::from_millis(settings.graphql.loader_delay_ms);
        Self {
            articles: batch(content::ArticleLoader(db.clone()), delay),
            comments: batch(content::CommentLoader(db.clone()), delay),
            reaction_counts: batch(
                content::ReactionCountsLoader {
                    db: db.clone(),
                    settings: settings.clone(),
                },
                delay,
            ),
        }
    }
}

/// A loader whose batches run in their own tasks, keeping the request's span (so their
/// statements are logged with the request), and gather keys for `delay`.
fn batch<L, K>(loader: L, delay: Duration) -> DataLoader<L>
where
    L: Loader<K>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    DataLoader::new(loader, |future| tokio::spawn(future.in_current_span())).delay(delay)
}

impl Loaders {
    /// Forgets everything loaded so far: a mutation calls it after its write, so the nodes
    /// its payload returns (and a later mutation's in the same document) read the new state.
    pub fn forget_all(&self) {
        self.users.forget();
        self.articles.forget();
        self.articles_with.forget();
        self.tags.forget();
        self.article_tags.forget();
        self.tag_moderators.forget();
        self.revisions.forget();
        self.organizations.forget();
        self.org_roles.forget();
        self.org_lists.forget();
        self.pending_co_authors.forget();
        self.replies.forget();
        self.comments.forget();
        self.reaction_counts.forget();
        self.viewer_reactions.forget();
        self.following.forget();
        self.following.loader().forget();
        self.series.forget();
        self.blocks.forget();
        self.counts.forget();
        self.sessions.forget();
        self.api_keys.forget();
        self.notifications.forget();
        self.images.forget();
        self.reports.forget();
        self.audit_entries.forget();
        self.webhooks.forget();
        self.webhook_deliveries.forget();
        self.notification_settings.forget();
        self.thread_levels.forget();
        self.feed_sources.forget();
        self.source_articles.forget();
        self.identities.forget();
        self.data_exports.forget();
    }

    /// Puts what a list read with its articles (see [`Includes`]) where the articles'
    /// fields look for it, so they send no statement of their own.
    pub fn prime(&self, articles: &[(&Article, &Extras)]) {
        self.users.feed_many(
            articles
                .iter()
                .filter_map(|(a, x)| x.author.as_ref().map(|u| (a.user_id, u.clone()))),
        );
    }

    /// An article by id, with what the selection under `field` reads along with it (see
    /// [`includes`]) put where its resolvers look for it: one statement in all.
    pub async fn article(
        &self,
        id: ArticleId,
        field: async_graphql::Lookahead<'_>,
    ) -> Result<Option<Article>, std::sync::Arc<crate::error::AppError>> {
        let includes = includes(field);
        if !includes.any() {
            return self.articles.load_one(id).await;
        }
        Ok(self
            .articles_with
            .load_one((id, includes))
            .await?
            .map(|(article, extras)| {
                self.prime(&[(&article, &extras)]);
                self.articles.feed_many([(article.id, article.clone())]);
                article
            }))
    }

    /// Loaders for one request by `viewer` (anonymous when `None`).
    pub fn new(db: &PgPool, settings: &Arc<Settings>, viewer: Option<UserId>) -> Self {
        Self {
            users: Batch::new(users::UserLoader(db.clone())),
            articles: Batch::new(content::ArticleLoader(db.clone())),
            articles_with: Batch::new(content::ArticleWithLoader(db.clone())),
            tags: Batch::new(content::TagLoader(db.clone())),
            article_tags: Batch::new(content::ArticleTagsLoader(db.clone())),
            tag_moderators: Batch::new(content::TagModeratorsLoader(db.clone())),
            revisions: Batch::new(content::RevisionsLoader(db.clone())),
            organizations: Batch::new(content::OrganizationLoader(db.clone())),
            org_lists: Batch::new(content::OrgListsLoader(db.clone())),
            pending_co_authors: Batch::new(content::PendingCoAuthorsLoader(db.clone())),
            org_roles: Batch::new(content::OrgRoleLoader {
                db: db.clone(),
                viewer,
            }),
            replies: Batch::new(content::RepliesLoader {
                db: db.clone(),
                viewer,
            }),
            comments: Batch::new(content::CommentLoader(db.clone())),
            reaction_counts: Batch::new(content::ReactionCountsLoader {
                db: db.clone(),
                settings: settings.clone(),
            }),
            viewer_reactions: Batch::new(content::ViewerReactionsLoader {
                db: db.clone(),
                viewer,
            }),
            following: Batch::new(content::FollowingLoader::new(db.clone(), viewer)),
            series: Batch::new(content::SeriesLoader(db.clone())),
            blocks: Batch::new(content::BlockLoader {
                db: db.clone(),
                viewer,
            }),
            counts: Batch::new(content::CountLoader {
                db: db.clone(),
                viewer,
            }),
            sessions: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { Ok(repo::sessions_by_ids(&db, user, &ids).await?) })
                },
                |row| row.id,
            )),
            api_keys: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { Ok(repo::api_keys_by_ids(&db, user, &ids).await?) })
                },
                |row| row.id,
            )),
            notifications: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { notifications::find_many(&db, user, &ids).await })
                },
                |row| row.id,
            )),
            images: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { media::find_many_owned(&db, user, &ids).await })
                },
                |row| row.id,
            )),
            notification_settings: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { notifications::settings(&db, user, &ids).await })
                },
                |row| row.user_id,
            )),
            thread_levels: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { notifications::subscriptions(&db, user, &ids).await })
                },
                |row| row.article_id,
            )),
            feed_sources: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| Box::pin(async move { imports::find_many(&db, user, &ids).await }),
                |row| row.id,
            )),
            source_articles: Batch::new(content::SourceArticlesLoader(db.clone())),
            identities: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move {
                        crate::domain::accounts::identities::find_many(&db, user, &ids).await
                    })
                },
                |row| row.id,
            )),
            data_exports: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(
                        async move { crate::domain::portability::find_many(&db, user, &ids).await },
                    )
                },
                |row| row.id,
            )),
            webhooks: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| Box::pin(async move { webhooks::find_many(&db, user, &ids).await }),
                |row| row.id,
            )),
            webhook_deliveries: Batch::new(Records::new(
                db,
                viewer,
                |db, user, ids| {
                    Box::pin(async move { webhooks::find_deliveries(&db, user, &ids).await })
                },
                |row| row.id,
            )),
            reports: Batch::new(Records::new(
                db,
                viewer,
                |db, _, ids| Box::pin(async move { moderation::find_reports(&db, &ids).await }),
                |row| row.id,
            )),
            audit_entries: Batch::new(Records::new(
                db,
                viewer,
                |db, _, ids| {
                    Box::pin(async move { moderation::find_audit_entries(&db, &ids).await })
                },
                |row| row.id,
            )),
        }
    }
}

/// Whether the signed-in viewer follows `target` (false when signed out), through the
/// request's follows loader.
pub async fn viewer_follows(
    ctx: &async_graphql::Context<'_>,
    target: crate::domain::follows::Followable,
) -> async_graphql::Result<bool> {
    use crate::graphql::context::ContextExt as _;
    if ctx.viewer().is_none() {
        return Ok(false);
    }
    Ok(ctx
        .loaders()
        .following
        .load_one(target)
        .await?
        .unwrap_or(false))
}

/// Whether the viewer blocked `member`, and whether `member` blocked the viewer (both
/// false when signed out), through the request's blocks loader.
pub async fn blocks_between(
    ctx: &async_graphql::Context<'_>,
    member: UserId,
) -> async_graphql::Result<(bool, bool)> {
    use crate::graphql::context::ContextExt as _;
    if ctx.viewer().is_none() {
        return Ok((false, false));
    }
    Ok(ctx
        .loaders()
        .blocks
        .load_one(member)
        .await?
        .unwrap_or_default())
}
