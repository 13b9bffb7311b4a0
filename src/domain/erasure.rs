//! What leaving the community removes. A member who deletes their account takes their
//! articles, reactions, bookmarks, follows, blocks and notifications with them; their comments on other members'
//! articles stay in place as "[deleted]", with the text erased, so the replies of others
//! keep their thread. Every counter those rows fed is corrected in the same transaction.

use secrecy::SecretString;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::accounts::{self, Viewer};
use crate::error::AppResult;
use crate::ids::UserId;

pub async fn erase_member_content(
    tx: &mut PgConnection,
    settings: &Settings,
    user: UserId,
) -> AppResult<()> {
    let (public, scores) = settings.public_reactions();
    // Their reactions and bookmarks, with the tallies, counts and scores they fed.
    let (reacted_types, reacted_ids): (Vec<String>, Vec<Uuid>) =
        sqlx::query_as::<_, (String, Uuid)>(
            "SELECT DISTINCT reactable_type, reactable_id FROM reactions WHERE user_id = $1",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .unzip();
    sqlx::query(
        "WITH gone AS (DELETE FROM reactions WHERE user_id = $1 RETURNING reactable_type, reactable_id, category),
         agg AS (SELECT reactable_type, reactable_id, category, count(*)::int AS n FROM gone GROUP BY 1, 2, 3),
         tallies AS (UPDATE reaction_tallies t SET count = t.count - agg.n FROM agg
                     WHERE t.reactable_type = agg.reactable_type AND t.reactable_id = agg.reactable_id
                       AND t.category = agg.category),
         public AS (SELECT agg.reactable_type, agg.reactable_id, sum(agg.n)::int AS n, sum(agg.n * c.score)::int AS s
                    FROM agg JOIN UNNEST($2::text[], $3::int[]) AS c(name, score) ON c.name = agg.category
                    GROUP BY 1, 2),
         articles AS (UPDATE articles a SET reactions_count = a.reactions_count - p.n, score = a.score - p.s
                      FROM public p WHERE p.reactable_type = 'article' AND a.id = p.reactable_id)
         UPDATE comments c SET reactions_count = c.reactions_count - p.n, score = c.score - p.s
         FROM public p WHERE p.reactable_type = 'comment' AND c.id = p.reactable_id",
    )
    .bind(user)
    .bind(&public)
    .bind(&scores)
    .execute(&mut *tx)
    .await?;
    // The items' own copies of their tallies, from the tallies as they are now.
    sqlx::query(
        "WITH items AS (SELECT * FROM UNNEST($1::text[], $2::uuid[]) AS i(t, id)),
         fresh AS (SELECT i.t, i.id, COALESCE(jsonb_object_agg(r.category, r.count)
                          FILTER (WHERE r.count > 0), '{}') AS tallies
                   FROM items i LEFT JOIN reaction_tallies r ON r.reactable_type = i.t AND r.reactable_id = i.id
                   GROUP BY i.t, i.id),
         articles AS (UPDATE articles a SET tallies = f.tallies FROM fresh f
                      WHERE f.t = 'article' AND a.id = f.id)
         UPDATE comments c SET tallies = f.tallies FROM fresh f WHERE f.t = 'comment' AND c.id = f.id",
    )
    .bind(&reacted_types)
    .bind(&reacted_ids)
    .execute(&mut *tx)
    .await?;
    // The members and tags they followed, and the members who followed them.
    sqlx::query(
        "WITH gone AS (DELETE FROM follows WHERE follower_id = $1 RETURNING followable_type, followable_id),
         members AS (UPDATE users SET followers_count = followers_count - 1
                     WHERE id IN (SELECT followable_id FROM gone WHERE followable_type = 'user')),
         orgs AS (UPDATE organizations SET followers_count = followers_count - 1
                  WHERE id IN (SELECT followable_id FROM gone WHERE followable_type = 'organization'))
         UPDATE tags SET followers_count = followers_count - 1
         WHERE id IN (SELECT followable_id FROM gone WHERE followable_type = 'tag')",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH gone AS (DELETE FROM follows WHERE followable_type = 'user' AND followable_id = $1 RETURNING follower_id)
         UPDATE users SET following_count = following_count - 1 WHERE id IN (SELECT follower_id FROM gone)",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // Their uploaded images: the records now, the stored files by a job once this commits.
    let images: Vec<(
        String,
        sqlx::types::Json<Vec<crate::domain::media::Variant>>,
    )> = sqlx::query_as("DELETE FROM images WHERE user_id = $1 RETURNING storage_key, variants")
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
    if !images.is_empty() {
        let images = images
            .into_iter()
            .map(|(key, variants)| (key, variants.0.into_iter().map(|v| v.url).collect()))
            .collect();
        crate::jobs::enqueue(&mut *tx, &crate::jobs::Job::DeleteStoredImages { images }).await?;
    }
    // Their blocks, their notifications and settings.
    sqlx::query("DELETE FROM user_blocks WHERE blocker_id = $1 OR blocked_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM notifications WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM notification_settings WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // Their places in organizations: an organization they were the last owner of passes to
    // its longest-standing editor (or member).
    sqlx::query(
        "WITH gone AS (DELETE FROM organization_members WHERE user_id = $1 RETURNING organization_id, role),
         counted AS (UPDATE organizations o SET members_count = members_count - 1
                     FROM gone WHERE o.id = gone.organization_id)
         UPDATE organization_members m SET role = 'owner'
         FROM (SELECT DISTINCT ON (m.organization_id) m.organization_id, m.user_id
               FROM organization_members m JOIN gone g ON g.organization_id = m.organization_id AND g.role = 'owner'
               WHERE m.user_id <> $1
                 AND NOT EXISTS (SELECT 1 FROM organization_members o
                                 WHERE o.organization_id = m.organization_id AND o.role = 'owner' AND o.user_id <> $1)
               ORDER BY m.organization_id, CASE m.role WHEN 'editor' THEN 0 ELSE 1 END, m.created_at) heir
         WHERE m.organization_id = heir.organization_id AND m.user_id = heir.user_id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM organization_invitations WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "WITH gone AS (DELETE FROM article_co_authors WHERE user_id = $1 RETURNING article_id)
         UPDATE articles a SET co_author_ids = array_remove(co_author_ids, $1) FROM gone WHERE a.id = gone.article_id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // Their articles, with everything hanging from them: their live ones leave their
    // co-authors' and organizations' counts.
    sqlx::query(
        "WITH live AS (SELECT co_author_ids, organization_id FROM articles WHERE user_id = $1 AND status = 'published'),
         co AS (UPDATE users u SET articles_count = u.articles_count - x.n
                FROM (SELECT c, count(*)::int AS n FROM live, unnest(live.co_author_ids) AS c GROUP BY 1) x
                WHERE u.id = x.c)
         UPDATE organizations o SET articles_count = o.articles_count - x.n
         FROM (SELECT organization_id, count(*)::int AS n FROM live WHERE organization_id IS NOT NULL GROUP BY 1) x
         WHERE o.id = x.organization_id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // What reports kept of their writing goes with it.
    sqlx::query(
        "UPDATE reports r SET snapshot = NULL
         WHERE (r.subject_type = 'article' AND r.subject_id IN (SELECT id FROM articles WHERE user_id = $1))
            OR (r.subject_type = 'comment' AND r.subject_id IN (SELECT id FROM comments WHERE user_id = $1))",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tags t SET articles_count = t.articles_count - x.n FROM (
            SELECT at.tag_id, count(*)::int AS n FROM article_tags at JOIN articles a ON a.id = at.article_id
            WHERE a.user_id = $1 AND a.status = 'published' GROUP BY 1) x
         WHERE t.id = x.tag_id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH items AS (
            SELECT 'article'::text AS t, id FROM articles WHERE user_id = $1
            UNION ALL SELECT 'comment', c.id FROM comments c JOIN articles a ON a.id = c.article_id WHERE a.user_id = $1),
         gone AS (DELETE FROM reactions r USING items i WHERE r.reactable_type = i.t AND r.reactable_id = i.id)
         DELETE FROM reaction_tallies r USING items i WHERE r.reactable_type = i.t AND r.reactable_id = i.id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM articles WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM series WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET articles_count = 0 WHERE id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // Their comments elsewhere: kept as "[deleted]", text erased.
    sqlx::query(
        "WITH gone AS (UPDATE comments SET deleted_at = now() WHERE user_id = $1 AND deleted_at IS NULL RETURNING article_id, parent_id),
         parents AS (UPDATE comments p SET replies_count = p.replies_count - g.n
             FROM (SELECT parent_id, count(*)::int AS n FROM gone WHERE parent_id IS NOT NULL GROUP BY 1) g
             WHERE p.id = g.parent_id)
         UPDATE articles a SET comments_count = a.comments_count - g.n
         FROM (SELECT article_id, count(*)::int AS n FROM gone GROUP BY 1) g WHERE a.id = g.article_id",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // Their comments' earlier versions go with the text.
    sqlx::query(
        "DELETE FROM comment_revisions r USING comments c WHERE c.id = r.comment_id AND c.user_id = $1",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE comments SET body_markdown = '', body_html = '' WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Removes a member's personal data, every credential and their content (see
/// [`erase_member_content`]). The row stays as a tombstone (`deleted_at`, a freed
/// username and email) so their comments keep their place in others' threads.
pub async fn delete_account(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    password: &SecretString,
) -> AppResult<()> {
    let user =
        accounts::service::check_password(db, settings, viewer, "password", password).await?;
    let mut tx = db.begin().await?;
    erase_member_content(&mut tx, settings, user.id).await?;
    sqlx::query(
        "UPDATE users SET username = 'deleted_' || replace(id::text, '-', ''), email = NULL,
                pending_email = NULL, name = '', password_hash = NULL, bio = '', location = '',
                website_url = NULL, github_username = NULL, twitter_username = NULL,
                role = 'member', suspended_reason = NULL, avatar_url = NULL, deleted_at = now()
         WHERE id = $1",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM api_keys WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    // Sign-in through providers, the second factor, and exports go with the account.
    for table in [
        "identities",
        "identity_link_grants",
        "recovery_codes",
        "login_challenges",
        "data_exports",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE user_id = $1"
        )))
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL
         WHERE id = $1",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM feed_sources WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM thread_subscriptions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM notification_mail_queue WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM webhooks WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM feed_tokens WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM email_tokens WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    // Mail still queued for them would go to an address we no longer hold.
    sqlx::query("DELETE FROM jobs WHERE payload->>'user_id' = $1::text AND status <> 'running'")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(())
}
