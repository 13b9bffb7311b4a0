//! Search over articles, members and tags.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const SEARCH: &str = "query($q: String!, $t: [SearchType!], $f: Int, $a: String) { search(query: $q, types: $t, first: $f, after: $a) { edges { node { node { __typename ... on Article { title } ... on User { username } ... on Tag { name } } rank highlight } } pageInfo { hasNextPage endCursor } } }";

fn names(data: &Value) -> Vec<String> {
    data["search"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"]["node"];
            n["title"]
                .as_str()
                .or(n["username"].as_str())
                .or(n["name"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn articles_rank_by_title_tags_body_and_members_and_tags_match_loosely() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let mallory = app.member("mallory").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
    for (token, title, body, tags, published) in [
        (
            &ada,
            "Understanding Rust ownership",
            "The borrow checker keeps memory safe.",
            vec!["rust"],
            true,
        ),
        (
            &ada,
            "Python tips",
            "A few tricks. Rust is mentioned once, in passing.",
            vec!["python"],
            true,
        ),
        (
            &ada,
            "Secret Rust draft",
            "rust rust rust",
            vec!["rust"],
            false,
        ),
        (
            &mallory,
            "Rust spam <script>",
            "rust rust rust rust",
            vec!["rust"],
            true,
        ),
    ] {
        app.ok(Some(token), create, json!({ "i": { "title": title, "bodyMarkdown": body, "tags": tags, "published": published } })).await;
    }
    sqlx::query("UPDATE users SET role = 'suspended' WHERE username = 'mallory'")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.state.search.caught_up(&app.state.db).await.unwrap();

    let data = app
        .ok(None, SEARCH, json!({ "q": "rust", "t": ["ARTICLE"] }))
        .await;
    assert_eq!(
        names(&data),
        vec!["Understanding Rust ownership", "Python tips"],
        "title beats body; drafts and suspended members never appear"
    );
    let highlight = data["search"]["edges"][0]["node"]["highlight"]
        .as_str()
        .unwrap();
    assert!(highlight.contains("<mark>Rust</mark>"), "{highlight}");

    let data = app
        .ok(
            None,
            SEARCH,
            json!({ "q": "\"borrow checker\"", "t": ["ARTICLE"] }),
        )
        .await;
    assert_eq!(names(&data), vec!["Understanding Rust ownership"]);
    let data = app
        .ok(
            None,
            SEARCH,
            json!({ "q": "rust -python", "t": ["ARTICLE"] }),
        )
        .await;
    assert_eq!(names(&data), vec!["Understanding Rust ownership"]);
    let data = app
        .ok(
            None,
            SEARCH,
            json!({ "q": "tricks or ownership", "t": ["ARTICLE"] }),
        )
        .await;
    assert_eq!(names(&data).len(), 2);

    // Members by prefix, tags despite a typo; suspended members are not found.
    let data = app
        .ok(None, SEARCH, json!({ "q": "ad", "t": ["USER"] }))
        .await;
    assert_eq!(names(&data), vec!["ada"]);
    let data = app
        .ok(None, SEARCH, json!({ "q": "mallory", "t": ["USER"] }))
        .await;
    assert!(names(&data).is_empty());
    let data = app
        .ok(None, SEARCH, json!({ "q": "pyhton", "t": ["TAG"] }))
        .await;
    assert_eq!(names(&data), vec!["python"]);

    // All kinds together, paged.
    let data = app.ok(None, SEARCH, json!({ "q": "rust", "f": 1 })).await;
    assert_eq!(data["search"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(data["search"]["pageInfo"]["hasNextPage"], true);
    let cursor = data["search"]["pageInfo"]["endCursor"].clone();
    let next = app
        .ok(None, SEARCH, json!({ "q": "rust", "f": 10, "a": cursor }))
        .await;
    let mut all = names(&data);
    all.extend(names(&next));
    all.sort();
    assert_eq!(
        all,
        vec!["Python tips", "Understanding Rust ownership", "rust"]
    );

    for bad in ["", "   ", &"x".repeat(201)] {
        let (_, body) = app.graphql(SEARCH, json!({ "q": bad })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad:?}"
        );
    }
    let (_, body) = app
        .graphql(SEARCH, json!({ "q": "a & | ! ( :* <->" }))
        .await;
    assert!(
        body.get("errors").is_none(),
        "websearch syntax never fails: {body}"
    );
}

async fn publish(app: &TestApp, token: &str, title: &str, body: &str, tags: &[&str]) -> String {
    app.ok(
        Some(token),
        "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }",
        json!({ "i": { "title": title, "bodyMarkdown": body, "tags": tags, "published": true } }),
    )
    .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn titles(app: &TestApp, q: &str) -> Vec<String> {
    names(
        &app.ok(None, SEARCH, json!({ "q": q, "t": ["ARTICLE"], "f": 50 }))
            .await,
    )
}

/// Relevance with known documents: a word in the title outweighs it in the tags, which
/// outweigh the body; among bodies, more mentions in less text rank higher; stemming
/// matches other forms of a word; stop words neither match nor get in the way.
#[tokio::test]
async fn relevance_follows_title_tags_body_and_frequency() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let filler = "Notes on tooling, editors, teams and the week in general. ".repeat(8);
    publish(
        &app,
        &ada,
        "Benchmarks that lie",
        &format!("{filler} One mention of caching."),
        &["testing"],
    )
    .await;
    publish(
        &app,
        &ada,
        "Caching strategies for web apps",
        &filler,
        &["web"],
    )
    .await;
    publish(&app, &ada, "A week of notes", &filler, &["caching"]).await;
    publish(
        &app,
        &ada,
        "Notes from a meetup",
        &format!("{filler} Caching, caching and more caching: cached pages everywhere."),
        &["meetups"],
    )
    .await;
    publish(&app, &ada, "Unrelated", &filler, &["misc"]).await;
    app.state.search.caught_up(&app.state.db).await.unwrap();

    assert_eq!(
        titles(&app, "caching").await,
        vec![
            "Caching strategies for web apps",
            "A week of notes",
            "Notes from a meetup",
            "Benchmarks that lie",
        ],
        "title > tag > body, and four mentions > one"
    );
    assert_eq!(
        titles(&app, "the cached").await.len(),
        4,
        "stemmed forms match; a stop word is no requirement"
    );
    assert_eq!(titles(&app, "caching -meetups").await.len(), 3);
    assert_eq!(
        titles(&app, "\"cached pages\"").await,
        vec!["Notes from a meetup"]
    );
    assert!(titles(&app, "zzzqqq").await.is_empty());
}

/// Every node's index follows the writes made on any node, soon after they commit:
/// publishing, editing, unpublishing, a suspension; `vibecoding search rebuild` has every
/// node build its index again and answer the same.
#[tokio::test]
async fn every_node_index_follows_writes_and_rebuilds_on_request() {
    let app = spawn_app().await;
    let other = app.second_node(crate::helpers::Options::default()).await;
    let ada = app.member("ada").await;
    let id = publish(
        &app,
        &ada,
        "Zig comptime explained",
        "Generics at compile time.",
        &["zig"],
    )
    .await;
    // The other node sees it within a second of the commit.
    let started = std::time::Instant::now();
    loop {
        if titles(&other, "comptime").await == vec!["Zig comptime explained"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "not searchable on the other node within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.ok(
        Some(&ada),
        "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id } } }",
        json!({ "i": { "id": id, "title": "Zig generics explained" } }),
    )
    .await;
    other.state.search.caught_up(&other.state.db).await.unwrap();
    assert!(
        titles(&other, "comptime").await.is_empty(),
        "the old title is gone"
    );
    assert_eq!(
        titles(&other, "compile").await.len(),
        1,
        "the body is still there"
    );
    assert_eq!(
        titles(&other, "generics explained").await,
        vec!["Zig generics explained"]
    );

    app.ok(
        Some(&ada),
        "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { id } } }",
        json!({ "id": id }),
    )
    .await;
    other.state.search.caught_up(&other.state.db).await.unwrap();
    assert!(
        titles(&other, "zig").await.is_empty(),
        "a draft is not found"
    );

    publish(
        &app,
        &ada,
        "Zig build system",
        "build.zig in practice",
        &["zig"],
    )
    .await;
    other.state.search.caught_up(&other.state.db).await.unwrap();
    assert_eq!(titles(&other, "zig").await, vec!["Zig build system"]);
    sqlx::query("UPDATE users SET role = 'suspended' WHERE username = 'ada'")
        .execute(&app.state.db)
        .await
        .unwrap();
    other.state.search.caught_up(&other.state.db).await.unwrap();
    assert!(
        titles(&other, "zig").await.is_empty(),
        "a suspended member's articles are not found"
    );
    sqlx::query("UPDATE users SET role = 'member' WHERE username = 'ada'")
        .execute(&app.state.db)
        .await
        .unwrap();

    // A rebuild requested from the command line: both nodes build again and agree.
    let output = crate::process::vibecoding()
        .args(["search", "rebuild"])
        .env("APP_ENV", "development")
        .env("DATABASE_URL", crate::helpers::pg_url(&app.db_name))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for node in [&app, &other] {
        let started = std::time::Instant::now();
        loop {
            let dirs: Vec<String> = std::fs::read_dir(&node.state.settings.search.index_dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if dirs.len() == 1 && dirs[0].starts_with("g2-") {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{dirs:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(titles(node, "zig").await, vec!["Zig build system"]);
    }
    let health = app.ok(None, "{ health { searchIndex } }", json!({})).await;
    assert_eq!(health["health"]["searchIndex"], "UP");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A node started on an index directory built from another database (a copied volume, a
/// database restored elsewhere) rebuilds the index from its own database instead of
/// trusting its position in another database's change log.
#[tokio::test]
async fn an_index_built_from_another_database_is_rebuilt() {
    let first = spawn_app().await;
    let ada = first.member("ada").await;
    for title in ["Zig comptime explained", "Zig allocators", "Zig build"] {
        publish(&first, &ada, title, "Systems programming.", &["zig"]).await;
    }
    // Settled changes: the index's position in the change log moves past them.
    sqlx::query("UPDATE search_changes SET at = now() - interval '1 hour'")
        .execute(&first.state.db)
        .await
        .unwrap();
    first.state.search.caught_up(&first.state.db).await.unwrap();
    let copied = std::env::temp_dir().join(format!(
        "vibecoding-search-copy-{}",
        uuid::Uuid::new_v4().simple()
    ));
    copy_dir(&first.state.settings.search.index_dir, &copied);

    // Another database, with an article written (and settled) before the node in question
    // starts: its change has a sequence number the copied index has already passed.
    let second = spawn_app().await;
    let bob = second.member("bob").await;
    publish(
        &second,
        &bob,
        "Rust lifetimes",
        "Borrowing, explained.",
        &["rust"],
    )
    .await;
    sqlx::query("UPDATE search_changes SET at = now() - interval '1 hour'")
        .execute(&second.state.db)
        .await
        .unwrap();
    let node = second
        .second_node_with(crate::helpers::Options::default(), |s| {
            s.search.index_dir = copied.clone();
        })
        .await;
    node.state.search.caught_up(&node.state.db).await.unwrap();
    assert_eq!(titles(&node, "lifetimes").await, vec!["Rust lifetimes"]);
    assert!(titles(&node, "zig").await.is_empty());
}
