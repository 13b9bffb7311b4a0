//! Object identification: every type with an `id` is a `Node` that `node(id:)` refetches,
//! for whom may see it and no one else.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_counting_app};
use crate::uploads::png;

const NODE: &str = "query($id: ID!) { node(id: $id) { __typename id } }";

/// What `node(id:)` answers `token` for `id`: the type name, or None for null.
async fn refetch(app: &TestApp, token: Option<&str>, id: &str) -> Option<String> {
    let data = app.ok(token, NODE, json!({ "id": id })).await;
    match &data["node"] {
        Value::Null => None,
        node => {
            assert_eq!(node["id"], id, "{data}");
            Some(node["__typename"].as_str().unwrap().to_owned())
        }
    }
}

fn id(data: &Value, pointer: &str) -> String {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {data}"))
        .to_owned()
}

#[tokio::test]
async fn node_refetches_every_node_type_for_whom_may_see_it() {
    let app = spawn_counting_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cleo = app.member("cleo").await;
    app.set_role("cleo", "admin").await;

    let session = id(
        &app.ok(Some(&ada), "{ viewer { sessions { id } } }", json!({}))
            .await,
        "/viewer/sessions/0/id",
    );
    let key = id(
        &app.ok(
            Some(&ada),
            "mutation { createApiKey(input: { description: \"ci\" }) { userErrors { field message code } apiKey { id } } }",
            json!({}),
        )
        .await,
        "/createApiKey/apiKey/id",
    );
    let (status, body) = app
        .upload(
            Some(&ada),
            "mutation($file: Upload!) { uploadImage(input: { file: $file }) { userErrors { field message code } image { id } } }",
            json!({ "file": null }),
            "file",
            "a.png",
            png(8, 8),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let image = id(&body, "/data/uploadImage/image/id");
    let article = id(
        &app.ok(
            Some(&ada),
            "mutation { createArticle(input: { title: \"Nodes\", bodyMarkdown: \"Text.\", published: true }) { userErrors { field message code } article { id } } }",
            json!({}),
        )
        .await,
        "/createArticle/article/id",
    );
    let comment = id(
        &app.ok(
            Some(&bob),
            "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Hello\" }) { userErrors { field message code } comment { id } } }",
            json!({ "a": article }),
        )
        .await,
        "/createComment/comment/id",
    );
    app.drain_jobs().await;
    let notification = id(
        &app.ok(
            Some(&ada),
            "{ viewer { notifications { edges { node { id } } } } }",
            json!({}),
        )
        .await,
        "/viewer/notifications/edges/0/node/id",
    );
    let report = id(
        &app.ok(
            Some(&ada),
            "mutation($s: ID!) { report(input: { subjectId: $s, category: SPAM }) { userErrors { field message code } report { id } } }",
            json!({ "s": comment }),
        )
        .await,
        "/report/report/id",
    );
    app.ok(
        Some(&cleo),
        "mutation($r: ID!) { resolveReport(input: { id: $r, action: DISMISS }) { userErrors { field message code } report { id } } }",
        json!({ "r": report }),
    )
    .await;
    let entry = id(
        &app.ok(
            Some(&cleo),
            "{ auditLog { edges { node { id } } } }",
            json!({}),
        )
        .await,
        "/auditLog/edges/0/node/id",
    );

    // Each record is refetched by whom may see it: its owner, or the moderators and admins.
    let owned = [
        (&session, "Session"),
        (&key, "ApiKey"),
        (&image, "Image"),
        (&notification, "Notification"),
    ];
    for (id, type_name) in owned {
        assert_eq!(
            refetch(&app, Some(&ada), id).await.as_deref(),
            Some(type_name)
        );
        assert_eq!(refetch(&app, Some(&bob), id).await, None, "{type_name}");
        assert_eq!(refetch(&app, Some(&cleo), id).await, None, "{type_name}");
        assert_eq!(refetch(&app, None, id).await, None, "{type_name}");
    }
    for (id, type_name) in [(&report, "Report"), (&entry, "AuditEntry")] {
        assert_eq!(
            refetch(&app, Some(&cleo), id).await.as_deref(),
            Some(type_name)
        );
        assert_eq!(refetch(&app, Some(&bob), id).await, None, "{type_name}");
        assert_eq!(refetch(&app, None, id).await, None, "{type_name}");
    }
    for (id, type_name) in [(&article, "Article"), (&comment, "Comment")] {
        assert_eq!(refetch(&app, None, id).await.as_deref(), Some(type_name));
    }
    let data = app
        .ok(
            Some(&ada),
            "query($id: ID!) { node(id: $id) { ... on Session { current } } }",
            json!({ "id": session }),
        )
        .await;
    assert_eq!(data["node"]["current"], true, "{data}");

    // Several of every kind in one request: one statement per kind, whatever the count.
    let ids = [&session, &key, &image, &notification];
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename } }";
    app.ok(Some(&ada), query, json!({ "ids": ids })).await;
    let before = app.statements();
    app.ok(Some(&ada), "{ __typename }", json!({})).await;
    let signed_in = app.statements() - before;
    let before = app.statements();
    let twice = [ids, ids].concat();
    let data = app.ok(Some(&ada), query, json!({ "ids": twice })).await;
    assert_eq!(
        app.statements() - before,
        signed_in + 4,
        "what any signed-in request costs, then one statement for each of the four kinds"
    );
    assert_eq!(data["nodes"].as_array().unwrap().len(), 8, "{data}");
    assert!(
        data["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| !n.is_null()),
        "{data}"
    );
}
