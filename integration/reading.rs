//! The server-rendered reading pages, and `vibecoding seed`.

use serde_json::json;

use crate::helpers::{TestApp, pg_url, spawn_app};

async fn html(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = cookie {
        request = request.header("cookie", format!("vibecoding_session={token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn pages_render_articles_threads_profiles_and_tags_escaped() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id path } } }";
    let article = app
        .ok(Some(&ada), create, json!({ "i": { "title": "<script>alert(1)</script> & Rust", "bodyMarkdown": "Hello **world**", "tags": ["rust"], "description": "About \"Rust\"", "published": true } }))
        .await["createArticle"]["article"]
        .clone();
    let path = article["path"].as_str().unwrap().to_owned();
    let comment = "mutation($a: ID!, $p: ID, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    let root = app
        .ok(
            Some(&bob),
            comment,
            json!({ "a": article["id"], "b": "Great <b>post</b>" }),
        )
        .await["createComment"]["comment"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        comment,
        json!({ "a": article["id"], "p": root, "b": "Thanks, Bob" }),
    )
    .await;
    let draft = app
        .ok(
            Some(&ada),
            create,
            json!({ "i": { "title": "Secret draft", "bodyMarkdown": "x" } }),
        )
        .await["createArticle"]["article"]["path"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, home) = html(&app, "/", None).await;
    assert_eq!(status, 200);
    assert!(
        home.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Rust"),
        "titles are escaped"
    );
    assert!(!home.contains("<script>alert(1)"));
    assert!(home.contains(&format!("href=\"{path}\"")), "{home}");
    assert!(
        home.contains("href=\"/t/rust\"") && home.contains("2 comments"),
        "{home}"
    );
    assert!(!home.contains("Secret draft"));
    assert!(home.contains("<title>Latest articles — Vibecoding Community</title>"));

    let (status, page) = html(&app, &path, None).await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong>world</strong>"));
    assert!(
        page.contains("<p>Great post</p>"),
        "raw HTML in a comment is dropped when it is written"
    );
    assert!(page.contains("Thanks, Bob"), "replies are shown");
    assert!(
        page.contains("name=\"description\" content=\"About &quot;Rust&quot;\""),
        "{page}"
    );
    assert!(page.contains("property=\"og:title\"") && page.contains("rel=\"canonical\""));

    // Drafts: not found for others, shown to their author signed in by cookie.
    assert_eq!(html(&app, &draft, None).await.0, 404);
    assert_eq!(html(&app, &draft, Some(&bob)).await.0, 404);
    let (status, own) = html(&app, &draft, Some(&ada)).await;
    assert_eq!(status, 200);
    assert!(own.contains("Secret draft"));

    let (status, profile) = html(&app, "/ada", None).await;
    assert_eq!(status, 200);
    assert!(profile.contains("ada Example") && profile.contains("1 articles"));
    let (status, tag) = html(&app, "/t/rust", None).await;
    assert_eq!(status, 200);
    assert!(tag.contains("#rust") && tag.contains(&path));
    for missing in ["/nobody_at_all", "/t/nothing", "/ada/no-such-article"] {
        assert_eq!(html(&app, missing, None).await.0, 404, "{missing}");
    }
}

#[tokio::test]
async fn the_home_page_pages_with_keyset_cursors() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    for i in 0..23 {
        app.ok(Some(&ada), "mutation($t: String!) { createArticle(input: { title: $t, bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({ "t": format!("Post number {i}") })).await;
    }
    let (_, first) = html(&app, "/", None).await;
    assert_eq!(first.matches("class=\"card\"").count(), 20);
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, second) = html(&app, &next, None).await;
    assert_eq!(status, 200);
    assert_eq!(second.matches("class=\"card\"").count(), 3);
    assert!(second.contains("Post number 0") && !second.contains("rel=\"next\""));
    assert_eq!(html(&app, "/?after=garbage", None).await.0, 400);
}

#[tokio::test]
async fn seed_fills_a_database_with_consistent_demo_content() {
    let app = spawn_app().await;
    let output = crate::process::vibecoding()
        .args([
            "seed",
            "--users",
            "30",
            "--articles",
            "60",
            "--comments",
            "300",
            "--reactions",
            "500",
            "--follows",
            "100",
        ])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", pg_url(&app.db_name))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("seeded 30 members, 60 articles, 300 comments")
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, 30);
    assert_eq!(
        app.count("SELECT count(*) FROM articles WHERE status = 'published'")
            .await,
        60
    );
    assert_eq!(app.count("SELECT count(*) FROM comments").await, 300);
    assert!(
        app.count("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL")
            .await
            > 50,
        "threads, not only roots"
    );
    assert!(app.count("SELECT count(*) FROM reactions").await > 400);
    // Counters agree with the rows.
    assert_eq!(app.count("SELECT count(*) FROM articles a WHERE comments_count <> (SELECT count(*) FROM comments c WHERE c.article_id = a.id)").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM tags t WHERE articles_count <> (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id)").await, 0);
    // Seeded members can sign in, and the pages show the content.
    let (_, body) = app
        .graphql("mutation { login(input: { login: \"nobody\", password: \"vibecoding-demo\" }) { userErrors { field message code } token } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let username: String = sqlx::query_scalar("SELECT username::text FROM users LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let (_, body) = app
        .graphql("mutation($l: String!) { login(input: { login: $l, password: \"vibecoding-demo\" }) { userErrors { field message code } token } }", json!({ "l": username }))
        .await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
    let (status, home) = html(&app, "/", None).await;
    assert_eq!((status, home.matches("class=\"card\"").count()), (200, 20));

    let refused = crate::process::vibecoding()
        .args(["seed"])
        .env("APP_ENV", "production")
        .env("DATABASE_URL", pg_url(&app.db_name))
        .env("SECRET_KEY_BASE", "k".repeat(64))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused in production"));
}

/// The pages run their documents through the same budget as any client, at what they
/// cost: a reader with the default limits reads article after article.
#[tokio::test]
async fn pages_fit_the_default_query_budget() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options::default(), |s| {
        s.rate_limits.enabled = true;
    })
    .await;
    let ada = app.member("ada").await;
    let article = app
        .ok(Some(&ada), "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id path } } }", json!({ "i": { "title": "Budget", "bodyMarkdown": "x", "tags": ["rust"], "published": true } }))
        .await["createArticle"]["article"]
        .clone();
    app.ok(
        Some(&ada),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"first\" }) { userErrors { field message code } comment { id } } }",
        json!({ "a": article["id"] }),
    )
    .await;
    let path = article["path"].as_str().unwrap();
    for _ in 0..10 {
        for page in [path, "/", "/t/rust", "/ada"] {
            let (status, body) = html(&app, page, None).await;
            assert_eq!(status, 200, "{page}: {body}");
        }
    }
    // A reader who spent the budget is asked to slow down, not shown an error.
    let mut last = 0;
    for _ in 0..200 {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        last = response.status().as_u16();
        if last != 200 {
            assert!(response.headers().contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(last, 429);
}
