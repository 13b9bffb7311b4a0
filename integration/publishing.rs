//! Articles, comments, reactions, follows and tags through GraphQL.

use serde_json::{Value, json};

use crate::helpers::{
    Options, TestApp, code, field, spawn_app, spawn_app_with, spawn_counting_app,
};

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id title slug path status publishedAt editedAt description readingTimeMinutes tagList coverImageUrl canonicalUrl bodyHtml previewToken series { title } } } }";
const UPDATE: &str = "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id title status publishedAt editedAt description tagList } } }";
const BY_ID: &str =
    "query($id: ID!, $p: String) { article(id: $id, previewToken: $p) { id title status } }";

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(Some(token), CREATE, json!({ "i": input })).await["createArticle"]["article"].clone()
}

async fn publish(app: &TestApp, token: &str, title: &str, tags: &[&str]) -> String {
    let article = create(app, token, json!({ "title": title, "bodyMarkdown": format!("Text of {title}."), "tags": tags, "published": true })).await;
    article["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn front_matter_drafts_previews_and_publication() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let markdown = "---\ntitle: From the Front Matter\ntags: rust, webdev\ncover_image: https://images.example.com/c.png\ncanonical_url: https://blog.example.com/fm\ndescription: Set in front matter\nseries: Rust Notes\npublished: false\n---\n\n# A heading\n\nSome words here.\n";
    let draft = create(
        &app,
        &ada,
        json!({ "bodyMarkdown": markdown, "tags": ["Go"] }),
    )
    .await;
    assert_eq!(draft["title"], "From the Front Matter");
    assert_eq!(
        draft["tagList"],
        json!(["go"]),
        "an explicit field wins over the front matter"
    );
    assert_eq!(draft["coverImageUrl"], "https://images.example.com/c.png");
    assert_eq!(draft["canonicalUrl"], "https://blog.example.com/fm");
    assert_eq!(draft["description"], "Set in front matter");
    assert_eq!(draft["series"]["title"], "Rust Notes");
    assert_eq!(draft["status"], "DRAFT");
    assert!(
        draft["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("<h1 id=\"a-heading\">")
    );
    assert!(
        !draft["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("canonical_url"),
        "front matter is not rendered"
    );
    let slug = draft["slug"].as_str().unwrap();
    assert!(
        slug.starts_with("from-the-front-matter-")
            && slug.len() == "from-the-front-matter-".len() + 4,
        "{slug}"
    );
    assert_eq!(draft["path"], format!("/ada/{slug}"));
    let id = draft["id"].clone();
    let preview = draft["previewToken"].as_str().unwrap().to_owned();

    // A draft is its author's alone, unless the preview token is shown.
    for token in [None, Some(bob.as_str())] {
        let data = app.ok(token, BY_ID, json!({ "id": id })).await;
        assert!(data["article"].is_null());
        let data = app
            .ok(
                token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(data["node"].is_null());
        let data = app
            .ok(
                token,
                "query($s: String!) { article(username: \"ada\", slug: $s) { id } }",
                json!({ "s": slug }),
            )
            .await;
        assert!(data["article"].is_null());
        let data = app.ok(token, "{ articles { edges { node { id } } } tag(name: \"go\") { articles { edges { node { id } } } } user(username: \"ada\") { articles { edges { node { id } } } } }", json!({})).await;
        assert_eq!(data["articles"]["edges"], json!([]));
        assert_eq!(data["tag"]["articles"]["edges"], json!([]));
        assert_eq!(data["user"]["articles"]["edges"], json!([]));
    }
    let data = app
        .ok(Some(&bob), BY_ID, json!({ "id": id, "p": preview }))
        .await;
    assert_eq!(data["article"]["title"], "From the Front Matter");
    let data = app
        .ok(
            Some(&bob),
            "query($id: ID!) { article(id: $id) { previewToken } }",
            json!({ "id": id }),
        )
        .await;
    assert!(data["article"].is_null());
    let data = app
        .ok(
            Some(&ada),
            "{ viewer { articles { edges { node { status } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"]["articles"]["edges"][0]["node"]["status"],
        "DRAFT"
    );

    // Publishing fixes publishedAt; an edit after publication sets editedAt.
    let published = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { status publishedAt editedAt } } }",
            json!({ "id": id }),
        )
        .await["publishArticle"]["article"]
        .clone();
    assert_eq!(published["status"], "PUBLISHED");
    assert!(published["editedAt"].is_null());
    let first_published_at = published["publishedAt"].clone();
    let data = app.ok(None, BY_ID, json!({ "id": id })).await;
    assert_eq!(data["article"]["status"], "PUBLISHED");
    let edited = app
        .ok(
            Some(&ada),
            UPDATE,
            json!({ "i": { "id": id, "title": "A New Title" } }),
        )
        .await["updateArticle"]["article"]
        .clone();
    assert!(edited["editedAt"].is_string());
    assert_eq!(edited["publishedAt"], first_published_at);
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": id }),
    )
    .await;
    assert!(app.ok(None, BY_ID, json!({ "id": id })).await["article"].is_null());
    let again = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { publishedAt } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        again["publishArticle"]["article"]["publishedAt"],
        first_published_at
    );

    // Reading time and the default description.
    let long = create(
        &app,
        &ada,
        json!({ "title": "Long", "bodyMarkdown": "word ".repeat(600) }),
    )
    .await;
    assert_eq!(long["readingTimeMinutes"], 3);
    assert_eq!(long["description"].as_str().unwrap().chars().count(), 100);
}

#[tokio::test]
async fn publishing_waits_for_a_confirmed_email_and_bad_input_writes_nothing() {
    let app = spawn_app().await;
    let unconfirmed = app.register("newcomer").await;
    app.fails(
        Some(&unconfirmed),
        CREATE,
        json!({ "i": { "title": "Hi", "bodyMarkdown": "x", "published": true } }),
        "FORBIDDEN",
    )
    .await;
    // Drafts are fine.
    create(
        &app,
        &unconfirmed,
        json!({ "title": "Hi", "bodyMarkdown": "x" }),
    )
    .await;

    let ada = app.member("ada").await;
    publish_with(&app, &ada, json!({ "title": "Canonical", "bodyMarkdown": "x", "published": true, "canonicalUrl": "https://blog.example.com/one" })).await;
    let before = app.count("SELECT count(*) FROM articles").await;
    let tags_before = app.count("SELECT count(*) FROM tags").await;
    let cases = [
        (json!({ "title": "", "bodyMarkdown": "x" }), "title"),
        (
            json!({ "title": "t".repeat(129), "bodyMarkdown": "x" }),
            "title",
        ),
        (json!({ "bodyMarkdown": "no title anywhere" }), "title"),
        (
            json!({ "title": "Big", "bodyMarkdown": "x".repeat(800 * 1024 + 1) }),
            "bodyMarkdown",
        ),
        (
            json!({ "title": "Tags", "bodyMarkdown": "x", "tags": ["a", "b", "c", "d", "e"] }),
            "tags",
        ),
        (
            json!({ "title": "Tags", "bodyMarkdown": "x", "tags": ["web-dev"] }),
            "tags",
        ),
        (
            json!({ "title": "Tags", "bodyMarkdown": "x", "tags": ["x".repeat(31)] }),
            "tags",
        ),
        (
            json!({ "title": "Cover", "bodyMarkdown": "x", "coverImageUrl": "javascript:alert(1)" }),
            "coverImageUrl",
        ),
        (
            json!({ "title": "Cover", "bodyMarkdown": "x", "coverImageUrl": "http://localhost/a.png" }),
            "coverImageUrl",
        ),
        (
            json!({ "title": "Cover", "bodyMarkdown": "x", "coverImageUrl": "http://10.1.2.3/a.png" }),
            "coverImageUrl",
        ),
        (
            json!({ "title": "Canonical", "bodyMarkdown": "x", "canonicalUrl": "http://169.254.169.254/" }),
            "canonicalUrl",
        ),
        (
            json!({ "title": "Dup", "bodyMarkdown": "x", "published": true, "canonicalUrl": "https://blog.example.com/one" }),
            "canonicalUrl",
        ),
        (
            json!({ "title": "Mentions", "bodyMarkdown": "@aaa @bbb @ccc @ddd @eee @fff @ggg @hhh" }),
            "bodyMarkdown",
        ),
        (
            json!({ "bodyMarkdown": "---\npublished: perhaps\n---\nbody" }),
            "bodyMarkdown",
        ),
    ];
    for (input, expected) in cases {
        let (_, body) = app
            .graphql_as(Some(&ada), CREATE, json!({ "i": input }))
            .await;
        assert_eq!(
            (code(&body), field(&body)),
            ("BAD_USER_INPUT", expected),
            "{body}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM articles").await,
        before,
        "nothing half-written"
    );
    assert_eq!(app.count("SELECT count(*) FROM tags").await, tags_before);
    let (_, body) = app
        .graphql(
            CREATE,
            json!({ "i": { "title": "x", "bodyMarkdown": "x" } }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

async fn publish_with(app: &TestApp, token: &str, input: Value) -> Value {
    create(app, token, input).await
}

#[tokio::test]
async fn markdown_is_rendered_once_and_sanitised() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let article = create(
        &app,
        &ada,
        json!({ "title": "Safe", "bodyMarkdown": "## Set up\n\n<script>alert('x')</script>\n\n[click](javascript:alert(1)) [site](https://example.com)\n\n<img src=x onerror=alert(1)>\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [ ] task\n\n~~gone~~ www.example.org" }),
    )
    .await;
    let html = article["bodyHtml"].as_str().unwrap();
    assert!(
        !html.contains("<script") && !html.contains("javascript:") && !html.contains("onerror"),
        "{html}"
    );
    assert!(html.contains("<h2 id=\"set-up\">"), "{html}");
    assert!(
        html.contains("rel=\"nofollow noopener noreferrer\""),
        "{html}"
    );
    assert!(html.contains("<code class=\"language-rust\">"), "{html}");
    assert!(
        html.contains("<table>") && html.contains("<del>gone</del>") && html.contains("checkbox"),
        "{html}"
    );
}

#[tokio::test]
async fn a_future_publication_date_schedules_the_article() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let article = create(&app, &ada, json!({ "title": "Later", "bodyMarkdown": "x", "tags": ["future"], "published": true, "publishedAt": at })).await;
    assert_eq!(article["status"], "SCHEDULED");
    let id = article["id"].clone();
    assert!(
        app.ok(None, BY_ID, json!({ "id": id })).await["article"].is_null(),
        "invisible until then"
    );
    assert_eq!(
        app.ok(
            None,
            "{ tag(name: \"future\") { articlesCount } }",
            json!({})
        )
        .await["tag"]["articlesCount"],
        0
    );
    assert!(app.drain_jobs().await.iter().all(
        |o| !matches!(o, vibecoding::worker::Outcome::Done { kind } if kind == "publish_scheduled")
    ));
    // Time passes.
    sqlx::query("UPDATE articles SET published_at = now() - interval '1 second'")
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'publish_scheduled'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes.contains(&vibecoding::worker::Outcome::Done {
            kind: "publish_scheduled".into()
        }),
        "{outcomes:?}"
    );
    assert_eq!(
        app.ok(None, BY_ID, json!({ "id": id })).await["article"]["status"],
        "PUBLISHED"
    );
    assert_eq!(
        app.ok(
            None,
            "{ tag(name: \"future\") { articlesCount } }",
            json!({})
        )
        .await["tag"]["articlesCount"],
        1
    );
}

#[tokio::test]
async fn only_authors_edit_and_moderators_unpublish() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let id = publish(&app, &ada, "Mine", &[]).await;
    app.fails(
        Some(&bob),
        UPDATE,
        json!({ "i": { "id": id, "title": "Yours" } }),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&bob),
        "mutation($id: ID!) { deleteArticle(input: { id: $id }) { userErrors { field message code } deletedArticleId } }",
        json!({ "id": id }),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&bob),
        "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": id }),
        "FORBIDDEN",
    )
    .await;
    sqlx::query("UPDATE users SET role = 'moderator' WHERE username = 'bob'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let data = app
        .ok(
            Some(&bob),
            "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
            json!({ "id": id }),
        )
        .await;
    // A moderator's takedown is its own state, which the author cannot undo.
    assert_eq!(data["unpublishArticle"]["article"]["status"], "REMOVED");
    for attempt in [
        "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        "mutation($id: ID!) { updateArticle(input: { id: $id, published: true }) { userErrors { field message code } article { status } } }",
    ] {
        let (_, body) = app
            .graphql_as(Some(&ada), attempt, json!({ "id": id }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{attempt}: {body}");
    }
    // Edits and unpublishing leave it removed.
    let data = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { updateArticle(input: { id: $id, title: \"Edited\" }) { userErrors { field message code } article { status removalReason } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["updateArticle"]["article"]["status"], "REMOVED");
    let data = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["unpublishArticle"]["article"]["status"], "REMOVED");
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { moderateArticle(input: { id: $id, reason: \"fixed\", action: RESTORE }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": id }),
    )
    .await;
    let data = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["publishArticle"]["article"]["status"], "PUBLISHED");
    sqlx::query(
        "UPDATE users SET role = 'suspended', suspended_reason = 'spam' WHERE username = 'ada'",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    app.fails(
        Some(&ada),
        CREATE,
        json!({ "i": { "title": "x", "bodyMarkdown": "x" } }),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&ada),
        "mutation { createArticle(input: { title: \"x\" }) { userErrors { field message code } article { id } } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&ada),
        UPDATE,
        json!({ "i": { "id": "QXJ0aWNsZTpub3Bl" } }),
        "BAD_USER_INPUT",
    )
    .await;
}

#[tokio::test]
async fn series_keep_their_order() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    for title in ["Part 1", "Part 2", "Part 3"] {
        create(&app, &ada, json!({ "title": title, "bodyMarkdown": "x", "series": "Learning Rust", "published": true })).await;
    }
    let data = app
        .ok(
            None,
            "{ articles(first: 1) { edges { node { series { title articles { title } } } } } }",
            json!({}),
        )
        .await;
    let series = &data["articles"]["edges"][0]["node"]["series"];
    assert_eq!(series["title"], "Learning Rust");
    assert_eq!(
        series["articles"],
        json!([{ "title": "Part 1" }, { "title": "Part 2" }, { "title": "Part 3" }])
    );
}

const COMMENT: &str = "mutation($a: ID!, $p: ID, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { userErrors { field message code } comment { id depth bodyHtml author { username } } } }";

async fn comment(
    app: &TestApp,
    token: &str,
    article: &str,
    parent: Option<&str>,
    body: &str,
) -> String {
    let data = app
        .ok(
            Some(token),
            COMMENT,
            json!({ "a": article, "p": parent, "b": body }),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn comment_threads_with_deletion_hiding_and_their_rules() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let eve = app.member("eve").await;
    let article = publish(&app, &ada, "Discuss", &[]).await;
    let root = comment(&app, &bob, &article, None, "First!").await;
    let reply = comment(&app, &ada, &article, Some(&root), "Thanks **Bob**").await;
    let deep = comment(&app, &bob, &article, Some(&reply), "Deeper").await;
    let second = comment(&app, &eve, &article, None, "Second root").await;

    let thread = "query($id: ID!) { article(id: $id) { commentsCount comments(orderBy: OLDEST) { edges { node { id bodyHtml bodyMarkdown isDeleted isHidden depth author { username } replies { edges { node { id bodyHtml depth replies { edges { node { id depth } } } } } } } } } } }";
    let data = app.ok(None, thread, json!({ "id": article })).await;
    assert_eq!(data["article"]["commentsCount"], 4);
    let roots = data["article"]["comments"]["edges"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0]["node"]["id"], root);
    let first_reply = &roots[0]["node"]["replies"]["edges"][0]["node"];
    assert!(
        first_reply["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("<strong>Bob</strong>")
    );
    assert_eq!(
        first_reply["replies"]["edges"][0]["node"],
        json!({ "id": deep, "depth": 2 })
    );
    let newest = app.ok(None, "query($id: ID!) { article(id: $id) { comments(orderBy: NEWEST, first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }", json!({ "id": article })).await;
    assert_eq!(
        newest["article"]["comments"]["edges"][0]["node"]["id"],
        second
    );
    assert_eq!(
        newest["article"]["comments"]["pageInfo"]["hasNextPage"],
        true
    );

    // A comment reached on its own still shows its replies.
    let alone = app.ok(None, "query($id: ID!) { node(id: $id) { ... on Comment { replies { edges { node { id } } } } } }", json!({ "id": root })).await;
    assert_eq!(alone["node"]["replies"]["edges"][0]["node"]["id"], reply);

    // The same text twice in the same place is refused; bodies are bounded.
    app.fails_on(
        Some(&bob),
        COMMENT,
        json!({ "a": article, "p": null, "b": "First!" }),
        ("BAD_USER_INPUT", "bodyMarkdown"),
    )
    .await;
    for bad in ["", "   ", &"x".repeat(25_001)] {
        app.fails(
            Some(&bob),
            COMMENT,
            json!({ "a": article, "p": null, "b": bad }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    // Only on published articles; a reply stays on its parent's article.
    let draft = create(&app, &ada, json!({ "title": "Draft", "bodyMarkdown": "x" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.fails(
        Some(&bob),
        COMMENT,
        json!({ "a": draft, "p": null, "b": "hi" }),
        "NOT_FOUND",
    )
    .await;
    let other = publish(&app, &ada, "Other", &[]).await;
    app.fails_on(
        Some(&bob),
        COMMENT,
        json!({ "a": other, "p": root, "b": "hi" }),
        ("BAD_USER_INPUT", "parentId"),
    )
    .await;

    // Editing: the author only.
    app.fails(
        Some(&eve),
        "mutation($id: ID!) { updateComment(input: { id: $id, bodyMarkdown: \"mine now\" }) { userErrors { field message code } comment { id } } }",
        json!({ "id": root }),
        "FORBIDDEN",
    )
    .await;
    let data = app.ok(Some(&bob), "mutation($id: ID!) { updateComment(input: { id: $id, bodyMarkdown: \"First, edited\" }) { userErrors { field message code } comment { bodyMarkdown editedAt } } }", json!({ "id": root })).await;
    assert!(data["updateComment"]["comment"]["editedAt"].is_string());

    // Hiding: the article's author only; others see that it is hidden, not its text.
    app.fails(
        Some(&bob),
        "mutation($id: ID!) { hideComment(input: { id: $id }) { userErrors { field message code } comment { isHidden } } }",
        json!({ "id": second }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { hideComment(input: { id: $id }) { userErrors { field message code } comment { isHidden } } }",
        json!({ "id": second }),
    )
    .await;
    let one =
        "query($id: ID!) { node(id: $id) { ... on Comment { isHidden bodyHtml bodyMarkdown } } }";
    let seen_by_bob = app.ok(Some(&bob), one, json!({ "id": second })).await;
    assert_eq!(seen_by_bob["node"]["isHidden"], true);
    assert!(seen_by_bob["node"]["bodyMarkdown"].is_null());
    assert!(
        seen_by_bob["node"]["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("hidden")
    );
    assert_eq!(
        app.ok(Some(&eve), one, json!({ "id": second })).await["node"]["bodyMarkdown"],
        "Second root"
    );

    // Deleting keeps the place in the thread.
    app.fails(
        Some(&eve),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { userErrors { field message code } comment { id } } }",
        json!({ "id": root }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { userErrors { field message code } comment { isDeleted } } }",
        json!({ "id": root }),
    )
    .await;
    let data = app.ok(None, thread, json!({ "id": article })).await;
    let root_node = &data["article"]["comments"]["edges"][0]["node"];
    assert_eq!(
        (
            root_node["isDeleted"].clone(),
            root_node["bodyHtml"].clone(),
            root_node["author"].clone()
        ),
        (json!(true), json!("[deleted]"), Value::Null)
    );
    assert_eq!(
        root_node["replies"]["edges"][0]["node"]["id"], reply,
        "replies stay"
    );
    assert_eq!(data["article"]["commentsCount"], 3);
    // Moderators may delete any comment.
    sqlx::query("UPDATE users SET role = 'moderator' WHERE username = 'eve'")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.ok(
        Some(&eve),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { userErrors { field message code } comment { isDeleted } } }",
        json!({ "id": deep }),
    )
    .await;
}

#[tokio::test]
async fn reactions_bookmarks_and_concurrent_clicks() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let article = publish(&app, &ada, "React to me", &[]).await;
    let toggle = "mutation($id: ID!, $c: String!, $r: Boolean) { toggleReaction(input: { reactableId: $id, category: $c, reacted: $r }) { userErrors { field message code } reacted article { reactionCounts { category count } viewerReactions } } }";
    let data = app
        .ok(Some(&bob), toggle, json!({ "id": article, "c": "unicorn" }))
        .await;
    assert_eq!(data["toggleReaction"]["reacted"], true);
    assert_eq!(
        data["toggleReaction"]["article"],
        json!({
            "reactionCounts": [{ "category": "unicorn", "count": 1 }],
            "viewerReactions": ["unicorn"],
        })
    );
    app.ok(
        Some(&bob),
        toggle,
        json!({ "id": article, "c": "readinglist" }),
    )
    .await;
    let read = "query($id: ID!) { article(id: $id) { reactionsCount score reactionCounts { category count } viewerReactions } }";
    let data = app.ok(Some(&bob), read, json!({ "id": article })).await;
    assert_eq!(
        data["article"]["reactionCounts"],
        json!([{ "category": "unicorn", "count": 1 }]),
        "the reading list is private"
    );
    assert_eq!(
        data["article"]["viewerReactions"],
        json!(["unicorn", "readinglist"])
    );
    assert_eq!(
        (
            data["article"]["reactionsCount"].clone(),
            data["article"]["score"].clone()
        ),
        (json!(1), json!(1))
    );
    let list = app
        .ok(
            Some(&bob),
            "{ viewer { readingList { edges { node { title } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        list["viewer"]["readingList"]["edges"],
        json!([{ "node": { "title": "React to me" } }])
    );
    let data = app
        .ok(Some(&bob), toggle, json!({ "id": article, "c": "unicorn" }))
        .await;
    assert_eq!(data["toggleReaction"]["reacted"], false);

    app.fails_on(
        Some(&bob),
        toggle,
        json!({ "id": article, "c": "dislike" }),
        ("BAD_USER_INPUT", "category"),
    )
    .await;
    let draft = create(&app, &ada, json!({ "title": "Draft", "bodyMarkdown": "x" })).await;
    app.fails(
        Some(&bob),
        toggle,
        json!({ "id": draft["id"], "c": "like" }),
        "NOT_FOUND",
    )
    .await;

    // A double-click asking twice for "on" leaves one reaction and a right count.
    let clicks = (0..10).map(|_| {
        app.graphql_as(
            Some(&bob),
            toggle,
            json!({ "id": article, "c": "fire", "r": true }),
        )
    });
    for (status, body) in futures_util::future::join_all(clicks).await {
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM reactions WHERE category = 'fire'")
            .await,
        1
    );
    let data = app.ok(None, read, json!({ "id": article })).await;
    assert_eq!(
        data["article"]["reactionCounts"],
        json!([{ "category": "fire", "count": 1 }])
    );

    // Comments take reactions too.
    let c = comment(&app, &ada, &article, None, "React here").await;
    app.ok(Some(&bob), toggle, json!({ "id": c, "c": "like" }))
        .await;
    let data = app.ok(Some(&bob), "query($id: ID!) { node(id: $id) { ... on Comment { reactionCounts { category count } viewerReactions score } } }", json!({ "id": c })).await;
    assert_eq!(
        data["node"],
        json!({ "reactionCounts": [{ "category": "like", "count": 1 }], "viewerReactions": ["like"], "score": 1 })
    );
}

#[tokio::test]
async fn counters_match_the_rows_under_concurrent_writes() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let article = publish(&app, &ada, "Hammered", &[]).await;
    let mut tokens = Vec::new();
    for i in 0..12 {
        tokens.push(app.member(&format!("reader{i}")).await);
    }
    let toggle = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    let mut work = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        for category in ["like", "fire", "unicorn"] {
            work.push(app.graphql_as(Some(token), toggle, json!({ "id": article, "c": category })));
        }
        let body = format!("Comment number {i}");
        work.push(app.graphql_as(
            Some(token),
            COMMENT,
            json!({ "a": article, "p": null, "b": body }),
        ));
    }
    for (status, body) in futures_util::future::join_all(work).await {
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
    }
    let counts: (i32, i32, i32) =
        sqlx::query_as("SELECT comments_count, reactions_count, score FROM articles")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let comments = app
        .count("SELECT count(*) FROM comments WHERE deleted_at IS NULL")
        .await;
    let reactions = app
        .count("SELECT count(*) FROM reactions WHERE reactable_type = 'article'")
        .await;
    assert_eq!(
        (
            i64::from(counts.0),
            i64::from(counts.1),
            i64::from(counts.2)
        ),
        (comments, reactions, reactions)
    );
    assert_eq!((comments, reactions), (12, 36));
    let tallies = app
        .count("SELECT COALESCE(sum(count), 0)::bigint FROM reaction_tallies")
        .await;
    assert_eq!(tallies, reactions);
}

#[tokio::test]
async fn following_members_and_tags() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    publish(&app, &ada, "Tagged", &["rust"]).await;
    let ids = app
        .ok(
            None,
            "{ user(username: \"ada\") { id } tag(name: \"rust\") { id } }",
            json!({}),
        )
        .await;
    let (ada_id, rust_id) = (ids["user"]["id"].clone(), ids["tag"]["id"].clone());
    for id in [&ada_id, &rust_id, &ada_id] {
        let followed = &app
            .ok(
                Some(&bob),
                "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } user { viewerIsFollowing followersCount } tag { viewerIsFollowing followersCount } } }",
                json!({ "id": id }),
            )
            .await["follow"];
        let target = if id == &ada_id { "user" } else { "tag" };
        assert_eq!(
            followed[target],
            json!({ "viewerIsFollowing": true, "followersCount": 1 }),
            "{followed}"
        );
    }
    let data = app
        .ok(Some(&bob), "{ user(username: \"ada\") { followersCount viewerIsFollowing followers { edges { node { username } } } } tag(name: \"rust\") { followersCount viewerIsFollowing } viewer { user { followingCount following { edges { node { username } } } followedTags { edges { node { name } } } } } }", json!({}))
        .await;
    assert_eq!(
        data["user"]["followersCount"], 1,
        "following twice counts once"
    );
    assert_eq!(data["user"]["viewerIsFollowing"], true);
    assert_eq!(
        data["user"]["followers"]["edges"],
        json!([{ "node": { "username": "bob" } }])
    );
    assert_eq!(
        (
            data["tag"]["followersCount"].clone(),
            data["tag"]["viewerIsFollowing"].clone()
        ),
        (json!(1), json!(true))
    );
    assert_eq!(data["viewer"]["user"]["followingCount"], 1);
    assert_eq!(
        data["viewer"]["user"]["following"]["edges"],
        json!([{ "node": { "username": "ada" } }])
    );
    assert_eq!(
        data["viewer"]["user"]["followedTags"]["edges"],
        json!([{ "node": { "name": "rust" } }])
    );
    let anonymous = app
        .ok(
            None,
            "{ user(username: \"ada\") { viewerIsFollowing } }",
            json!({}),
        )
        .await;
    assert_eq!(anonymous["user"]["viewerIsFollowing"], false);

    let me = app
        .ok(Some(&bob), "{ viewer { user { id } } }", json!({}))
        .await["viewer"]["user"]["id"]
        .clone();
    app.fails_on(
        Some(&bob),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": me }),
        ("BAD_USER_INPUT", "id"),
    )
    .await;
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { unfollow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": ada_id }),
    )
    .await;
    let data = app
        .ok(
            None,
            "{ user(username: \"ada\") { followersCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["user"]["followersCount"], 0);
}

#[tokio::test]
async fn tags_are_listed_by_popularity_or_name_and_described_by_moderators() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    publish(&app, &ada, "One", &["rust", "web"]).await;
    publish(&app, &ada, "Two", &["rust"]).await;
    publish(&app, &ada, "Three", &["rust", "go"]).await;
    let popular = app.ok(None, "{ tags(first: 2) { edges { node { name articlesCount } } pageInfo { hasNextPage endCursor } } }", json!({})).await;
    assert_eq!(
        popular["tags"]["edges"],
        json!([{ "node": { "name": "rust", "articlesCount": 3 } }, { "node": { "name": "go", "articlesCount": 1 } }])
    );
    let cursor = popular["tags"]["pageInfo"]["endCursor"].clone();
    let next = app.ok(None, "query($c: String) { tags(first: 2, after: $c) { edges { node { name } } pageInfo { hasNextPage } } }", json!({ "c": cursor })).await;
    assert_eq!(
        next["tags"]["edges"],
        json!([{ "node": { "name": "web" } }])
    );
    assert_eq!(next["tags"]["pageInfo"]["hasNextPage"], false);
    let by_name = app
        .ok(
            None,
            "{ tags(orderBy: NAME) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_name["tags"]["edges"],
        json!([{ "node": { "name": "go" } }, { "node": { "name": "rust" } }, { "node": { "name": "web" } }])
    );

    let update = "mutation { updateTag(input: { name: \"rust\", description: \"Fearless\", color: \"#DEA584\" }) { userErrors { field message code } tag { description color } } }";
    assert_eq!(
        code(&app.graphql_as(Some(&ada), update, json!({})).await.1),
        "FORBIDDEN"
    );
    sqlx::query("UPDATE users SET role = 'moderator'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let data = app.ok(Some(&ada), update, json!({})).await;
    assert_eq!(
        data["updateTag"]["tag"],
        json!({ "description": "Fearless", "color": "#dea584" })
    );
    app.fails_on(
        Some(&ada),
        "mutation { updateTag(input: { name: \"rust\", color: \"red\" }) { userErrors { field message code } tag { color } } }",
        json!({}),
        ("BAD_USER_INPUT", "color"),
    )
    .await;

    // Deleting an article gives its counts back.
    let id = app
        .ok(
            None,
            "{ articles(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await["articles"]["edges"][0]["node"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { deleteArticle(input: { id: $id }) { userErrors { field message code } deletedArticleId } }",
        json!({ "id": id }),
    )
    .await;
    let data = app
        .ok(
            None,
            "{ tag(name: \"rust\") { articlesCount } user(username: \"ada\") { articlesCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            data["tag"]["articlesCount"].clone(),
            data["user"]["articlesCount"].clone()
        ),
        (json!(2), json!(2))
    );
}

#[tokio::test]
async fn pages_of_articles_and_threads_cost_a_fixed_number_of_statements() {
    // Loaders gather keys for a few milliseconds. An unoptimised build on a machine busy
    // with the other tests can take longer than the 2 ms default to walk 50 articles, which
    // would split a batch in two; the window is widened so the count measures batching,
    // not the machine's speed.
    let app = spawn_app_with(
        Options {
            db_proxy: true,
            ..Default::default()
        },
        |s| s.graphql.loader_delay_ms = 25,
    )
    .await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let mut authors = vec![ada.clone(), bob.clone()];
    for i in 0..3 {
        authors.push(app.member(&format!("writer{i}")).await);
    }
    let mut first_article = String::new();
    for i in 0..55 {
        let token = &authors[i % authors.len()];
        let id = publish(
            &app,
            token,
            &format!("Article {i}"),
            &["rust", &format!("t{}", i % 7)],
        )
        .await;
        if i % 3 == 0 {
            app.ok(Some(&bob), "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }", json!({ "id": id })).await;
        }
        if first_article.is_empty() {
            first_article = id;
        }
    }
    let page = "query($n: Int!) { articles(first: $n) { edges { node { id title path author { username name } tags { name } tagList reactionCounts { category count } commentsCount viewerReactions } } pageInfo { hasNextPage endCursor } } }";
    for n in [20, 50] {
        let before = app.statements();
        let data = app.ok(Some(&bob), page, json!({ "n": n })).await;
        let spent = app.statements() - before;
        assert_eq!(
            data["articles"]["edges"].as_array().unwrap().len(),
            n as usize
        );
        assert!(spent <= 6, "a page of {n} articles cost {spent} statements");
        eprintln!("a page of {n} articles: {spent} statements");
    }

    // A thread of 100 comments, three levels deep: 10 roots, 3 replies each, 2 replies
    // to each reply; with their authors.
    let mut n = 0;
    let mut next_author = || {
        n += 1;
        (authors[n % authors.len()].clone(), format!("Comment {n}"))
    };
    for _ in 0..10 {
        let (token, text) = next_author();
        let root = comment(&app, &token, &first_article, None, &text).await;
        for _ in 0..3 {
            let (token, text) = next_author();
            let reply = comment(&app, &token, &first_article, Some(&root), &text).await;
            for _ in 0..2 {
                let (token, text) = next_author();
                comment(&app, &token, &first_article, Some(&reply), &text).await;
            }
        }
    }
    let thread = "query($id: ID!) { article(id: $id) { title author { username } comments(first: 100) { edges { node { bodyHtml author { username } replies(first: 100) { edges { node { bodyHtml author { username } replies(first: 100) { edges { node { bodyHtml author { username } } } } } } } } } } } }";
    let before = app.statements();
    let data = app.ok(None, thread, json!({ "id": first_article })).await;
    let spent = app.statements() - before;
    let text = data.to_string();
    assert_eq!(
        text.matches("Comment ").count(),
        100,
        "all 100 comments came back"
    );
    assert_eq!(
        spent, 2,
        "the article with its author, then the thread's three levels with theirs"
    );
    eprintln!("a 100-comment thread: {spent} statements");

    // The reading shape `make bench` times: three statements.
    let article_page = "query($id: ID!) { node(id: $id) { ... on Article { title bodyHtml author { username name } tags { name } reactionCounts { category count } comments(first: 50) { edges { node { id bodyHtml createdAt author { username name } } } } } } }";
    let before = app.statements();
    let data = app
        .ok(None, article_page, json!({ "id": first_article }))
        .await;
    assert_eq!(
        data["node"]["comments"]["edges"].as_array().unwrap().len(),
        10
    );
    assert_eq!(
        app.statements() - before,
        3,
        "the article with its author, its tags, then a page of comments with theirs"
    );
}

/// A thread of 5,000 comments answers its first page with the statements a small one
/// takes, reading only that page (each level stops at its page); replies asked for with a
/// cursor, or nested deeper than a page reads ahead, take one statement per level for all
/// the comments of that level; pages continue without gaps in every order.
#[tokio::test]
async fn big_threads_cost_their_page_and_page_in_every_order() {
    let app = spawn_counting_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let article = publish(&app, &ada, "Busy thread", &["rust"]).await;
    let root = comment(&app, &bob, &article, None, "The first root").await;
    // 4,000 more roots and 1,000 replies to the first, straight into the table.
    let (article_id, root_id): (uuid::Uuid, uuid::Uuid) = (
        vibecoding::graphql::node::decode(&async_graphql::ID(article.clone()))
            .unwrap()
            .1,
        vibecoding::graphql::node::decode(&async_graphql::ID(root.clone()))
            .unwrap()
            .1,
    );
    sqlx::query(
        "INSERT INTO comments (id, article_id, user_id, parent_id, depth, body_markdown, body_html, body_hash, score, created_at)
         SELECT gen_random_uuid(), $1, (SELECT id FROM users WHERE username = 'bob'), CASE WHEN n <= 1000 THEN $2 END,
                CASE WHEN n <= 1000 THEN 1 ELSE 0 END, 'Bulk ' || n, '<p>Bulk ' || n || '</p>', sha256(n::text::bytea),
                n % 7, now() - make_interval(secs => n)
         FROM generate_series(1, 5000) n",
    )
    .bind(article_id)
    .bind(root_id)
    .execute(&app.state.db)
    .await
    .unwrap();
    let page = "query($id: ID!, $a: String, $o: CommentOrder = TOP) { article(id: $id) { comments(first: 50, after: $a, orderBy: $o) { edges { node { bodyHtml score author { username } replies(first: 5) { edges { node { bodyHtml } } pageInfo { hasNextPage } } } } pageInfo { hasNextPage endCursor } } } }";
    let before = app.statements();
    let data = app.ok(None, page, json!({ "id": article })).await;
    assert_eq!(
        app.statements() - before,
        2,
        "as many statements as a small thread: the article, then a page of each level with their authors"
    );
    let edges = data["article"]["comments"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50);
    assert_eq!(data["article"]["comments"]["pageInfo"]["hasNextPage"], true);
    let first_root = edges.iter().find(|e| {
        e["node"]["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("The first root")
    });
    if let Some(first_root) = first_root {
        assert_eq!(
            first_root["node"]["replies"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            first_root["node"]["replies"]["pageInfo"]["hasNextPage"],
            true
        );
    }

    // Every root once, in each order, page after page.
    for order in ["TOP", "NEWEST", "OLDEST"] {
        let mut seen = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        let mut last: Option<(i64, String)> = None;
        loop {
            let data = app
                .ok(None, page, json!({ "id": article, "a": after, "o": order }))
                .await;
            let comments = &data["article"]["comments"];
            for edge in comments["edges"].as_array().unwrap() {
                let body = edge["node"]["bodyHtml"].as_str().unwrap().to_owned();
                let score = edge["node"]["score"].as_i64().unwrap();
                if order == "TOP"
                    && let Some((previous, _)) = &last
                {
                    assert!(score <= *previous, "highest score first");
                }
                last = Some((score, body.clone()));
                assert!(seen.insert(body), "no comment twice ({order})");
            }
            if comments["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = comments["pageInfo"]["endCursor"]
                .as_str()
                .map(str::to_owned);
        }
        assert_eq!(seen.len(), 4_001, "every root, {order}");
    }

    // Replies paged with a cursor, for every comment of the level at once.
    let replies = "query($id: ID!, $a: String) { node(id: $id) { ... on Comment { replies(first: 100, after: $a) { edges { node { bodyHtml replies(first: 2) { edges { cursor } } } } pageInfo { hasNextPage endCursor } } } } }";
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let before = app.statements();
        let data = app
            .ok(None, replies, json!({ "id": root, "a": after }))
            .await;
        assert_eq!(
            app.statements() - before,
            3,
            "the comment, its article, then its replies with theirs"
        );
        let replies = &data["node"]["replies"];
        seen += replies["edges"].as_array().unwrap().len();
        if replies["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = replies["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 1_000);
    let (_, body) = app
        .graphql(replies, json!({ "id": root, "a": "not a cursor" }))
        .await;
    assert_eq!(crate::helpers::code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn article_pages_page_forward_and_backward_without_gaps() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    for i in 0..7 {
        publish(&app, &ada, &format!("Post {i}"), &[]).await;
    }
    let query = "query($a: String) { articles(first: 3, after: $a) { edges { node { title } } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }";
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.ok(None, query, json!({ "a": after })).await;
        for edge in data["articles"]["edges"].as_array().unwrap() {
            seen.push(edge["node"]["title"].as_str().unwrap().to_owned());
        }
        // A new article between pages neither shifts nor repeats what follows.
        if after.is_none() {
            publish(&app, &ada, "Late arrival", &[]).await;
        }
        if data["articles"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["articles"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(
        seen,
        (0..7)
            .rev()
            .map(|i| format!("Post {i}"))
            .collect::<Vec<_>>()
    );
    let last = app
        .ok(
            None,
            "{ articles(last: 2) { edges { node { title } } pageInfo { hasPreviousPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        last["articles"]["edges"],
        json!([{ "node": { "title": "Post 1" } }, { "node": { "title": "Post 0" } }])
    );
    assert_eq!(last["articles"]["pageInfo"]["hasPreviousPage"], true);
    let (_, body) = app
        .graphql(
            "{ articles(first: 101) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(
            "{ articles(after: \"bogus\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_deleted_account_takes_its_content_and_leaves_threads_and_counters_right() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let adas = publish(&app, &ada, "Ada's article", &["rust"]).await;
    let bobs = publish(&app, &bob, "Bob's article", &["rust"]).await;
    comment(&app, &bob, &adas, None, "Bob on Ada's").await;
    let adas_comment = comment(&app, &ada, &bobs, None, "Ada on Bob's").await;
    let bobs_reply = comment(
        &app,
        &bob,
        &bobs,
        Some(&adas_comment),
        "Bob replying to Ada",
    )
    .await;
    comment(&app, &ada, &bobs, Some(&bobs_reply), "Ada answering Bob").await;
    let toggle = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    app.ok(Some(&ada), toggle, json!({ "id": bobs, "c": "like" }))
        .await;
    app.ok(
        Some(&ada),
        toggle,
        json!({ "id": bobs, "c": "readinglist" }),
    )
    .await;
    app.ok(Some(&bob), toggle, json!({ "id": adas, "c": "fire" }))
        .await;
    let ids = app
        .ok(
            None,
            "{ user(username: \"bob\") { id } tag(name: \"rust\") { id } }",
            json!({}),
        )
        .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": ids["user"]["id"] }),
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": ids["tag"]["id"] }),
    )
    .await;
    let ada_id = app
        .ok(Some(&ada), "{ viewer { user { id } } }", json!({}))
        .await["viewer"]["user"]["id"]
        .clone();
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": ada_id }),
    )
    .await;

    app.ok(
        Some(&ada),
        "mutation { deleteAccount(input: { password: \"correct horse battery\" }) { userErrors { field message code } deletedUserId } }",
        json!({}),
    )
    .await;

    assert!(
        app.ok(None, BY_ID, json!({ "id": adas })).await["article"].is_null(),
        "their articles go"
    );
    let data = app
        .ok(None, "query($id: ID!) { article(id: $id) { commentsCount reactionsCount reactionCounts { category count } comments { edges { node { isDeleted bodyHtml author { username } replies { edges { node { bodyHtml } } } } } } } user(username: \"bob\") { followersCount followingCount } tag(name: \"rust\") { articlesCount followersCount } }", json!({ "id": bobs }))
        .await;
    let article = &data["article"];
    assert_eq!(
        (
            article["commentsCount"].clone(),
            article["reactionsCount"].clone()
        ),
        (json!(1), json!(0))
    );
    let reply = app
        .ok(
            None,
            "query($id: ID!) { node(id: $id) { ... on Comment { repliesCount } } }",
            json!({ "id": bobs_reply }),
        )
        .await;
    assert_eq!(
        reply["node"]["repliesCount"], 0,
        "Ada's answer no longer counts"
    );
    assert_eq!(article["reactionCounts"], json!([]));
    let kept = &article["comments"]["edges"][0]["node"];
    assert_eq!(
        (
            kept["isDeleted"].clone(),
            kept["bodyHtml"].clone(),
            kept["author"].clone()
        ),
        (json!(true), json!("[deleted]"), Value::Null)
    );
    assert_eq!(
        kept["replies"]["edges"][0]["node"]["bodyHtml"], "<p>Bob replying to Ada</p>\n",
        "others' replies keep their place"
    );
    assert_eq!(
        (
            data["user"]["followersCount"].clone(),
            data["user"]["followingCount"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_eq!(
        (
            data["tag"]["articlesCount"].clone(),
            data["tag"]["followersCount"].clone()
        ),
        (json!(1), json!(0))
    );
    assert_eq!(
        app.count("SELECT count(*) FROM comments WHERE body_markdown LIKE 'Ada%'")
            .await,
        0,
        "their text is erased"
    );
    assert_eq!(
        app.count("SELECT COALESCE(sum(count), 0)::bigint FROM reaction_tallies")
            .await,
        app.count("SELECT count(*) FROM reactions").await
    );
}
