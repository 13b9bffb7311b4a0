//! `vibecoding seed`: realistic demo content for development and benchmarks: members,
//! Markdown articles with tags and series, threads of comments, reactions, bookmarks and
//! follows. Rows go in with bulk `UNNEST` inserts; counters are computed from the rows at
//! the end, so they match exactly.

use std::time::Instant;

use fake::Fake as _;
use fake::faker::lorem::en::{Paragraph, Sentence};
use fake::faker::name::en::{FirstName, LastName};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Settings;
use crate::db;
use crate::domain::accounts::passwords;
use crate::domain::markdown;

/// Every seeded member signs in with this password.
pub const PASSWORD: &str = "vibecoding-demo";

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub users: usize,
    pub articles: usize,
    pub comments: usize,
    pub reactions: usize,
    pub follows: usize,
}

const TAGS: &[&str] = &[
    "rust",
    "javascript",
    "python",
    "webdev",
    "beginners",
    "tutorial",
    "devops",
    "go",
    "react",
    "typescript",
    "database",
    "postgres",
    "security",
    "career",
    "opensource",
    "testing",
    "performance",
    "ai",
    "cloud",
    "linux",
    "css",
    "productivity",
    "graphql",
    "docker",
];
const BATCH: usize = 2_000;

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn body_pool(count: usize) -> Vec<(String, String, i32, String)> {
    (0..count)
        .map(|i| {
            let mut md = String::new();
            for p in 0..(2 + i % 5) {
                md.push_str(&format!(
                    "## {}\n\n",
                    capitalise(Sentence(2..5).fake::<String>().trim_end_matches('.'))
                ));
                md.push_str(&Paragraph(3..8).fake::<String>());
                md.push_str("\n\n");
                if p == 1 {
                    md.push_str(
                        "```rust\nfn main() {\n    println!(\"Hello, community!\");\n}\n```\n\n",
                    );
                }
                if p == 2 {
                    md.push_str("- **Tip:** keep it simple\n- *Note:* measure first\n\n");
                }
            }
            // Generated text nests two levels and stays small: it always renders.
            let html = markdown::render(&md).unwrap_or_default();
            let text = markdown::plain_text(&html);
            let description: String = text.chars().take(100).collect();
            (md, html, markdown::reading_time(&text), description)
        })
        .collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub async fn run(db: &PgPool, settings: &Settings, options: &SeedOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let hash = passwords::hash(&SecretString::from(PASSWORD), &settings.auth)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let run_id: String = Uuid::new_v4().simple().to_string()[..6].to_owned();

    // Members.
    let progress = bar(options.users, "members");
    let mut user_ids = Vec::with_capacity(options.users);
    for chunk in (0..options.users).collect::<Vec<_>>().chunks(BATCH) {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        let mut usernames = Vec::new();
        let mut emails = Vec::new();
        let mut bios = Vec::new();
        for i in chunk {
            let first: String = FirstName().fake();
            let last: String = LastName().fake();
            let clean: String = first
                .to_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect();
            let username = format!("{clean}_{run_id}{i}");
            ids.push(Uuid::now_v7());
            names.push(format!("{first} {last}"));
            emails.push(format!("{username}@example.com"));
            usernames.push(username);
            bios.push(Sentence(4..12).fake::<String>());
        }
        sqlx::query(
            "INSERT INTO users (id, username, email, name, bio, password_hash, email_confirmed_at, welcome_sent_at)
             SELECT id, username, email, name, bio, $5, now(), now()
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $6::text[]) AS t(id, username, email, name, bio)",
        )
        .bind(&ids)
        .bind(&usernames)
        .bind(&emails)
        .bind(&names)
        .bind(&hash)
        .bind(&bios)
        .execute(db)
        .await?;
        user_ids.extend(ids);
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    if user_ids.is_empty() {
        println!("no members to write as; nothing else seeded");
        return Ok(());
    }

    // Tags.
    let tag_ids: Vec<Uuid> = TAGS.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query("INSERT INTO tags (id, name) SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT (name) DO NOTHING")
        .bind(&tag_ids)
        .bind(TAGS)
        .execute(db)
        .await?;

    // Articles, published over the last year.
    let bodies = body_pool(64);
    let progress = bar(options.articles, "articles");
    let mut article_ids = Vec::with_capacity(options.articles);
    for chunk in (0..options.articles).collect::<Vec<_>>().chunks(BATCH) {
        let mut ids = Vec::new();
        let mut authors = Vec::new();
        let mut titles = Vec::new();
        let mut slugs = Vec::new();
        let mut markdown = Vec::new();
        let mut html = Vec::new();
        let mut reading = Vec::new();
        let mut descriptions = Vec::new();
        let mut published = Vec::new();
        let mut tag_lists = Vec::new();
        for i in chunk {
            let title = capitalise(Sentence(3..9).fake::<String>().trim_end_matches('.'));
            let body = &bodies[i % bodies.len()];
            let n_tags = 1 + i % 4;
            let tags: Vec<&str> = (0..n_tags)
                .map(|k| TAGS[(i * 7 + k * 5) % TAGS.len()])
                .collect();
            ids.push(Uuid::now_v7());
            authors.push(user_ids[(i * 31 + 7) % user_ids.len()]);
            slugs.push(format!(
                "{}-{run_id}{i}",
                slug::slugify(&title).chars().take(50).collect::<String>()
            ));
            titles.push(title);
            markdown.push(body.0.clone());
            html.push(body.1.clone());
            reading.push(body.2);
            descriptions.push(body.3.clone());
            published.push(
                chrono::Utc::now()
                    - chrono::Duration::minutes(((options.articles - i) * 5) as i64 % 525_600),
            );
            tag_lists.push(tags.join(","));
        }
        sqlx::query(
            "INSERT INTO articles (id, user_id, title, slug, body_markdown, body_html, reading_time_minutes,
                description, status, published_at, tag_names, preview_token)
             SELECT id, user_id, title, slug, md, html, rt, d, 'published', p, string_to_array(tags, ','), md5(random()::text)
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
                         $9::timestamptz[], $10::text[]) AS t(id, user_id, title, slug, md, html, rt, d, p, tags)",
        )
        .bind(&ids)
        .bind(&authors)
        .bind(&titles)
        .bind(&slugs)
        .bind(&markdown)
        .bind(&html)
        .bind(&reading)
        .bind(&descriptions)
        .bind(&published)
        .bind(&tag_lists)
        .execute(db)
        .await?;
        sqlx::query(
            "INSERT INTO article_tags (article_id, tag_id, position)
             SELECT a.id, t.id, (tn.ordinality - 1)::int2
             FROM articles a, unnest(a.tag_names) WITH ORDINALITY AS tn(name, ordinality)
             JOIN tags t ON t.name = tn.name
             WHERE a.id = ANY($1) ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .execute(db)
        .await?;
        article_ids.extend(ids);
        progress.inc(chunk.len() as u64);
    }
    progress.finish();

    // Comments: a third are replies to an earlier comment of the same article.
    let comment_bodies: Vec<(String, String)> = (0..128)
        .map(|_| {
            let md: String = Sentence(5..20).fake();
            let html = markdown::render(&md).unwrap_or_default();
            (md, html)
        })
        .collect();
    let progress = bar(options.comments, "comments");
    // Earlier comments that later ones may answer (parents are inserted before, or in the
    // same statement as, their replies).
    let mut recent: Vec<(Uuid, Uuid, i32)> = Vec::new();
    for chunk in (0..options.comments).collect::<Vec<_>>().chunks(BATCH) {
        let mut ids = Vec::new();
        let mut articles = Vec::new();
        let mut users = Vec::new();
        let mut parents: Vec<Option<Uuid>> = Vec::new();
        let mut depths = Vec::new();
        let mut md = Vec::new();
        let mut html = Vec::new();
        for i in chunk {
            let id = Uuid::now_v7();
            let pick = recent
                .len()
                .checked_sub(1 + (i * 7) % 50)
                .and_then(|k| recent.get(k));
            let (article, parent, depth) = match pick {
                Some((pid, aid, d)) if i % 3 != 0 && *d < 3 => (*aid, Some(*pid), d + 1),
                _ => (
                    article_ids[(i * 13 + 3) % article_ids.len().max(1)],
                    None,
                    0,
                ),
            };
            if article_ids.is_empty() {
                break;
            }
            let body = &comment_bodies[i % comment_bodies.len()];
            ids.push(id);
            articles.push(article);
            users.push(user_ids[(i * 7 + i / 7) % user_ids.len()]);
            parents.push(parent);
            depths.push(depth);
            md.push(format!("{} ({i})", body.0));
            html.push(body.1.clone());
            recent.push((id, article, depth));
        }
        if ids.is_empty() {
            break;
        }
        sqlx::query(
            "INSERT INTO comments (id, article_id, user_id, parent_id, depth, body_markdown, body_html, body_hash)
             SELECT id, a, u, p, d, md, html, sha256(md::bytea)
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[])
               AS t(id, a, u, p, d, md, html)",
        )
        .bind(&ids)
        .bind(&articles)
        .bind(&users)
        .bind(&parents)
        .bind(&depths)
        .bind(&md)
        .bind(&html)
        .execute(db)
        .await?;
        if recent.len() > 1_000 {
            recent.drain(..recent.len() - 200);
        }
        progress.inc(ids.len() as u64);
    }
    progress.finish();

    // Reactions on articles: public categories and bookmarks.
    let categories: Vec<String> = settings.reactions.iter().map(|c| c.name.clone()).collect();
    let progress = bar(options.reactions, "reactions");
    let mut written = 0;
    while written < options.reactions && !article_ids.is_empty() {
        let n = BATCH.min(options.reactions - written);
        let mut users = Vec::with_capacity(n);
        let mut items = Vec::with_capacity(n);
        let mut cats = Vec::with_capacity(n);
        for k in written..written + n {
            users.push(user_ids[(k * 7919) % user_ids.len()]);
            items.push(article_ids[(k * 104_729 + k / user_ids.len()) % article_ids.len()]);
            cats.push(categories[k % categories.len()].clone());
        }
        sqlx::query(
            "INSERT INTO reactions (user_id, reactable_type, reactable_id, category)
             SELECT u, 'article', a, c FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS t(u, a, c)
             ON CONFLICT DO NOTHING",
        )
        .bind(&users)
        .bind(&items)
        .bind(&cats)
        .execute(db)
        .await?;
        written += n;
        progress.inc(n as u64);
    }
    progress.finish();

    // Follows between members, and of tags.
    let progress = bar(options.follows, "follows");
    let mut written = 0;
    while written < options.follows && user_ids.len() > 1 {
        let n = BATCH.min(options.follows - written);
        let mut followers = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        for k in written..written + n {
            let follower = user_ids[(k * 31) % user_ids.len()];
            followers.push(follower);
            if k % 4 == 0 {
                types.push("tag");
                targets.push(tag_ids[k % tag_ids.len()]);
            } else {
                types.push("user");
                let mut target = user_ids[(k * 7 + 1 + k / user_ids.len()) % user_ids.len()];
                if target == follower {
                    target = user_ids[(k * 7 + 2) % user_ids.len()];
                }
                targets.push(target);
            }
        }
        sqlx::query(
            "INSERT INTO follows (follower_id, followable_type, followable_id)
             SELECT f, t, x FROM UNNEST($1::uuid[], $2::text[], $3::uuid[]) AS s(f, t, x)
             WHERE NOT (t = 'user' AND f = x) ON CONFLICT DO NOTHING",
        )
        .bind(&followers)
        .bind(&types)
        .bind(&targets)
        .execute(db)
        .await?;
        written += n;
        progress.inc(n as u64);
    }
    progress.finish();

    recount(db, settings).await?;
    // Fresh planner statistics (without them Postgres plans for empty tables until
    // autovacuum gets round to them), visibility maps for index-only scans, and GIN
    // pending lists merged, as autovacuum leaves a database in use.
    sqlx::query("VACUUM ANALYZE").execute(db).await?;
    println!(
        "seeded {} members, {} articles, {} comments, up to {} reactions and {} follows in {:.1}s; every member's password is {PASSWORD:?}",
        options.users,
        options.articles,
        options.comments,
        options.reactions,
        options.follows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Recomputes every counter from the rows.
pub async fn recount(db: &PgPool, settings: &Settings) -> anyhow::Result<()> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message("counting");
    let (public, scores) = settings.public_reactions();
    for statement in [
        "DELETE FROM reaction_tallies",
        "INSERT INTO reaction_tallies (reactable_type, reactable_id, category, count)
         SELECT reactable_type, reactable_id, category, count(*) FROM reactions GROUP BY 1, 2, 3",
        "UPDATE articles a SET tallies = t.tallies FROM (
            SELECT reactable_id, jsonb_object_agg(category, count) AS tallies FROM reaction_tallies
            WHERE reactable_type = 'article' AND count > 0 GROUP BY 1) t WHERE t.reactable_id = a.id",
        "UPDATE comments c SET tallies = t.tallies FROM (
            SELECT reactable_id, jsonb_object_agg(category, count) AS tallies FROM reaction_tallies
            WHERE reactable_type = 'comment' AND count > 0 GROUP BY 1) t WHERE t.reactable_id = c.id",
        "UPDATE articles a SET comments_count = c.n FROM (
            SELECT article_id, count(*) AS n FROM comments WHERE deleted_at IS NULL GROUP BY 1) c WHERE c.article_id = a.id",
        "UPDATE comments p SET replies_count = c.n FROM (
            SELECT parent_id, count(*) AS n FROM comments WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY 1) c WHERE c.parent_id = p.id",
        "UPDATE users u SET articles_count = a.n FROM (
            SELECT user_id, count(*) AS n FROM articles WHERE status = 'published' GROUP BY 1) a WHERE a.user_id = u.id",
        "UPDATE users u SET followers_count = f.n FROM (
            SELECT followable_id, count(*) AS n FROM follows WHERE followable_type = 'user' GROUP BY 1) f WHERE f.followable_id = u.id",
        "UPDATE users u SET following_count = f.n FROM (
            SELECT follower_id, count(*) AS n FROM follows WHERE followable_type = 'user' GROUP BY 1) f WHERE f.follower_id = u.id",
        "UPDATE tags t SET followers_count = f.n FROM (
            SELECT followable_id, count(*) AS n FROM follows WHERE followable_type = 'tag' GROUP BY 1) f WHERE f.followable_id = t.id",
        "UPDATE tags t SET articles_count = a.n FROM (
            SELECT at.tag_id, count(*) AS n FROM article_tags at JOIN articles a ON a.id = at.article_id
            WHERE a.status = 'published' GROUP BY 1) a WHERE a.tag_id = t.id",
    ] {
        sqlx::query(statement).execute(db).await?;
        spinner.tick();
    }
    sqlx::query(
        "UPDATE articles a SET reactions_count = r.n, score = r.s FROM (
            SELECT t.reactable_id, sum(t.count) AS n, sum(t.count * c.score) AS s
            FROM reaction_tallies t JOIN UNNEST($1::text[], $2::int[]) AS c(name, score) ON c.name = t.category
            WHERE t.reactable_type = 'article' GROUP BY 1) r WHERE r.reactable_id = a.id",
    )
    .bind(&public)
    .bind(&scores)
    .execute(db)
    .await?;
    spinner.finish_and_clear();
    Ok(())
}

/// `seed`: demo content, refused in production.
pub async fn command(args: &super::SeedArgs, settings: &Settings) -> anyhow::Result<()> {
    if settings.app_env == crate::config::AppEnv::Production {
        anyhow::bail!("seed writes demo content and is refused in production");
    }
    let db = db::connect(settings, db::Purpose::Background).await?;
    db::migrate(&db).await?;
    let options = SeedOptions {
        users: args.users,
        articles: args.articles,
        comments: args.comments,
        reactions: args.reactions,
        follows: args.follows,
    };
    run(&db, settings, &options).await
}
