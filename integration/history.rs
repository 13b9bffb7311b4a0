//! Edit history: revisions of articles and comments with their diffs, redaction, what
//! moderators still see, and the statements a page of histories costs.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_counting_app};

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
const UPDATE: &str = "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id } } }";
const COMMENT: &str = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
const EDIT_COMMENT: &str = "mutation($id: ID!, $b: String!) { updateComment(input: { id: $id, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
const HISTORY: &str = "query($id: ID!) { node(id: $id) { ... on Article { editedAt revisions(first: 10) { edges { node { id fields diff redacted editor { username } createdAt } } pageInfo { hasNextPage } } } } }";
const EDITS: &str = "query($id: ID!) { node(id: $id) { ... on Comment { edits { edges { node { id diff redacted editor { username } } } } } } }";
const REDACT: &str = "mutation($id: ID!) { redactRevision(input: { id: $id }) { userErrors { field message code } revision { redacted diff } } }";

#[tokio::test]
async fn every_edit_keeps_a_revision_with_a_diff_and_authors_may_redact_one() {
    let app = spawn_app().await;
    let author = app.member("author").await;
    let reader = app.member("reader").await;
    let moderator = app.member("warden").await;
    app.set_role("warden", "moderator").await;
    let article = app
        .ok(
            Some(&author),
            CREATE,
            json!({ "i": { "title": "First", "bodyMarkdown": "one\ntwo\nthree", "tags": ["rust"], "published": true } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.ok(
        Some(&author),
        UPDATE,
        json!({ "i": { "id": article, "bodyMarkdown": "one\n2\nthree" } }),
    )
    .await;
    app.ok(
        Some(&author),
        UPDATE,
        json!({ "i": { "id": article, "title": "Second", "tags": ["rust", "history"], "bodyMarkdown": "secret phone number\n2\nthree" } }),
    )
    .await;
    // Saving what is already there is not an edit.
    app.ok(
        Some(&author),
        UPDATE,
        json!({ "i": { "id": article, "title": "Second" } }),
    )
    .await;
    let history = app
        .ok(Some(&reader), HISTORY, json!({ "id": article }))
        .await;
    let edges = history["node"]["revisions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{history}");
    let newest = &edges[0]["node"];
    assert_eq!(newest["fields"], json!(["title", "body", "tags"]));
    assert_eq!(newest["editor"]["username"], "author");
    let diff = newest["diff"].as_str().unwrap();
    assert!(diff.starts_with("--- before\n+++ after\n"), "{diff}");
    for line in [
        "-title: First",
        "+title: Second",
        "-tags: rust",
        "+tags: rust, history",
        "-one",
        "+secret phone number",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line} in {diff}");
    }
    assert_eq!(edges[1]["node"]["fields"], json!(["body"]));
    assert!(
        edges[1]["node"]["diff"]
            .as_str()
            .unwrap()
            .contains("-two\n+2\n")
    );
    assert!(history["node"]["editedAt"].is_string());

    // Only an author redacts; the entry stays; moderators still read it.
    let revision = newest["id"].clone();
    app.fails(
        Some(&reader),
        REDACT,
        json!({ "id": revision }),
        "FORBIDDEN",
    )
    .await;
    let redacted = app
        .ok(Some(&author), REDACT, json!({ "id": revision }))
        .await;
    assert_eq!(
        redacted["redactRevision"]["revision"],
        json!({ "redacted": true, "diff": null })
    );
    let seen = app
        .ok(Some(&reader), HISTORY, json!({ "id": article }))
        .await;
    let first = &seen["node"]["revisions"]["edges"][0]["node"];
    assert_eq!(first["redacted"], true);
    assert!(first["diff"].is_null());
    assert_eq!(
        seen["node"]["revisions"]["edges"].as_array().unwrap().len(),
        2
    );
    let by_moderator = app
        .ok(Some(&moderator), HISTORY, json!({ "id": article }))
        .await;
    assert!(
        by_moderator["node"]["revisions"]["edges"][0]["node"]["diff"]
            .as_str()
            .unwrap()
            .contains("+secret phone number")
    );
    // A moderator's retag is an edit too, with the moderator as editor.
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { moderateArticleTags(input: { id: $id, tags: [\"rust\"], reason: \"off topic\" }) { userErrors { message } article { id } } }",
        json!({ "id": article }),
    )
    .await;
    let after = app.ok(None, HISTORY, json!({ "id": article })).await;
    let retag = &after["node"]["revisions"]["edges"][0]["node"];
    assert_eq!(retag["fields"], json!(["tags"]));
    assert_eq!(retag["editor"]["username"], "warden");

    // Comments: edits with diffs, hidden from readers once the comment is deleted.
    let comment = app
        .ok(
            Some(&reader),
            COMMENT,
            json!({ "a": article, "b": "frist" }),
        )
        .await["createComment"]["comment"]["id"]
        .clone();
    app.ok(
        Some(&reader),
        EDIT_COMMENT,
        json!({ "id": comment, "b": "first" }),
    )
    .await;
    let edits = app.ok(None, EDITS, json!({ "id": comment })).await;
    let edit = &edits["node"]["edits"]["edges"][0]["node"];
    assert!(
        edit["diff"].as_str().unwrap().contains("-frist\n+first\n"),
        "{edits}"
    );
    app.fails(
        Some(&author),
        REDACT,
        json!({ "id": edit["id"] }),
        "FORBIDDEN",
    )
    .await;
    app.ok(Some(&reader), REDACT, json!({ "id": edit["id"] }))
        .await;
    app.ok(
        Some(&reader),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { userErrors { message } } }",
        json!({ "id": comment }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM comment_revisions").await,
        1,
        "kept for moderators"
    );
}

#[tokio::test]
async fn the_histories_of_a_page_of_articles_cost_one_statement() {
    let app = spawn_counting_app().await;
    let author = app.member("author").await;
    for n in 0..4 {
        let id = app
            .ok(
                Some(&author),
                CREATE,
                json!({ "i": { "title": format!("Post {n}"), "bodyMarkdown": "a", "published": true } }),
            )
            .await["createArticle"]["article"]["id"]
            .clone();
        for body in ["b", "c"] {
            app.ok(
                Some(&author),
                UPDATE,
                json!({ "i": { "id": id, "bodyMarkdown": body } }),
            )
            .await;
        }
    }
    const PAGE: &str = "{ articles(first: 4) { edges { node { title revisions(first: 1) { edges { node { fields diff editor { username } } } pageInfo { hasNextPage } } } } } }";
    app.ok(None, PAGE, json!({})).await;
    let before = app.statements();
    let page = app.ok(None, PAGE, json!({})).await;
    let statements = app.statements() - before;
    for edge in page["articles"]["edges"].as_array().unwrap() {
        let revisions = &edge["node"]["revisions"];
        assert_eq!(revisions["edges"].as_array().unwrap().len(), 1);
        assert_eq!(revisions["pageInfo"]["hasNextPage"], true);
    }
    // The page of articles (with authors), their revisions, their editors.
    assert!(statements <= 3, "{statements} statements");
}
