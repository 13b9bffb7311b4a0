//! Search over articles, members and tags.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

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
    let create = "mutation($i: ArticleFields!) { createArticle(input: $i) { id } }";
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
