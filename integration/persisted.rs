//! Automatic persisted queries, and the production mode that runs only a manifest's
//! operations.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Options, TestApp, code, spawn_app, spawn_app_with};

const QUERY: &str = "query Health { health { app } }";

fn sha(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(app: &TestApp, hash: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("operationName", "Health"),
            ("extensions", &persisted(hash).to_string()),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn automatic_persisted_queries_register_then_run_by_hash_on_every_node() {
    let app = spawn_app().await;
    let other = app.second_node(Options::default()).await;
    let hash = sha(QUERY);

    // Unknown hash: the client is told to send the query.
    let (status, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert!(body.get("data").is_none());

    // A hash that does not match its query is refused and not stored.
    let (_, body) = post(
        &app,
        json!({ "query": "{ health { database } }", "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let (_, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    let (_, body) = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // Hash and query: runs and is remembered.
    let (_, body) = post(
        &app,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
    // Then the hash alone, by POST and by GET (cacheable), here and on another node.
    let (_, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
    let (status, body) = get(&other, &hash).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");

    // A persisted mutation is still not run by GET.
    let mutation = "mutation { logout { endedSessionId } }";
    let mutation_hash = sha(mutation);
    post(
        &app,
        json!({ "query": mutation, "extensions": persisted(&mutation_hash) }),
    )
    .await;
    let (status, _) = get(&app, &mutation_hash).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn production_can_accept_only_the_manifests_operations() {
    let manifest = std::env::temp_dir().join(format!(
        "vibecoding-manifest-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": sha(QUERY), "name": "Health", "type": "query", "body": QUERY }]
        })
        .to_string(),
    )
    .unwrap();
    let path = manifest.clone();
    let app = spawn_app_with(Options::default(), move |s| {
        s.graphql.persisted_only = true;
        s.graphql.persisted_manifest = Some(path);
    })
    .await;

    let (_, body) = post(&app, json!({ "extensions": persisted(&sha(QUERY)) })).await;
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
    // The exact text of a known operation is also accepted.
    let (_, body) = post(&app, json!({ "query": QUERY })).await;
    assert_eq!(body["data"]["health"]["app"], "UP", "{body}");
    // Anything else is refused before it is parsed, and cannot be registered.
    for body in [
        json!({ "query": "{ health { database } }" }),
        json!({ "query": "{ health { database } }", "extensions": persisted(&sha("{ health { database } }")) }),
        json!({ "extensions": persisted(&sha("{ health { database } }")) }),
    ] {
        let (_, answer) = post(&app, body.clone()).await;
        assert_eq!(code(&answer), "FORBIDDEN", "{body}: {answer}");
        assert!(answer.get("data").is_none());
    }
    let _ = std::fs::remove_file(manifest);

    // A manifest entry whose id is not its body's hash stops the server from starting.
    let mut settings = crate::helpers::test_settings("unused");
    let bad = std::env::temp_dir().join(format!(
        "vibecoding-bad-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &bad,
        json!({ "operations": [{ "id": sha("x"), "body": QUERY }] }).to_string(),
    )
    .unwrap();
    settings.graphql.persisted_manifest = Some(bad.clone());
    let err = vibecoding::graphql::persisted::Manifest::load(&settings).unwrap_err();
    assert!(err.to_string().contains("not the SHA-256"), "{err}");
    let _ = std::fs::remove_file(bad);
}
