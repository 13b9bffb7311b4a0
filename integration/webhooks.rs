//! Webhooks, end to end: registered over GraphQL, dispatched by the worker in the shape
//! the receiver chose, signed, retried, disabled, redelivered; never sent to a private
//! address unless the operator allowed its network.

use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, code, field, message, spawn_app_with};

const CREATE: &str = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { field message code } secret webhook { id url events scope selection active } } }";
const DELIVERIES: &str = "query($id: ID!) { node(id: $id) { ... on Webhook { active disabledReason failingSince deliveries(first: 20) { totalCount nodes { id event status attempt responseCode error requestExcerpt responseExcerpt durationMs nextAttemptAt } } } } }";

/// An app whose webhooks may reach the local receiver, retrying at once.
async fn app_with_receiver(max_attempts: i32) -> TestApp {
    spawn_app_with(Default::default(), |s| {
        s.outbound.allow_http = true;
        s.outbound.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
        s.webhooks.retry_base_secs = 0;
        s.webhooks.max_attempts = max_attempts;
    })
    .await
}

async fn create(app: &TestApp, token: &str, input: Value) -> (String, String) {
    let data = app.ok(Some(token), CREATE, json!({ "i": input })).await;
    let payload = &data["createWebhook"];
    (
        payload["webhook"]["id"].as_str().unwrap().to_owned(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

async fn publish(app: &TestApp, token: &str, title: &str) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }",
            json!({ "i": { "title": title, "bodyMarkdown": format!("Text of {title}."), "tags": ["rust"], "published": true } }),
        )
        .await;
    data["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(app: &TestApp, token: &str, article: &str, body: &str) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }",
            json!({ "a": article, "b": body }),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deliveries(app: &TestApp, token: &str, webhook: &str) -> Value {
    app.ok(Some(token), DELIVERIES, json!({ "id": webhook }))
        .await["node"]
        .clone()
}

/// Checks a request's `X-Vibecoding-Signature` as a receiver would, and returns its body.
fn verified(request: &wiremock::Request, secret: &str) -> Value {
    let header = request
        .headers
        .get("x-vibecoding-signature")
        .expect("a signature header")
        .to_str()
        .unwrap();
    let (t, v1) = header
        .split_once(',')
        .map(|(t, v)| {
            (
                t.strip_prefix("t=").unwrap().to_owned(),
                v.strip_prefix("v1=").unwrap().to_owned(),
            )
        })
        .unwrap();
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "a fresh timestamp: {t}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature matches the body");
    serde_json::from_slice(&request.body).unwrap()
}

fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request.headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_and_shaped_by_the_receivers_selection() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("thanks"))
        .mount(&receiver)
        .await;
    let app = app_with_receiver(5).await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let (chosen, secret) = create(
        &app,
        &ada,
        json!({
            "url": format!("{}/chosen", receiver.uri()),
            "events": ["ARTICLE_PUBLISHED", "COMMENT_CREATED"],
            "selection": "fragment on Node { ... on Article { title author { username } } ... on Comment { bodyMarkdown article { title } } }",
        }),
    )
    .await;
    let (plain, plain_secret) = create(
        &app,
        &ada,
        json!({ "url": format!("{}/plain", receiver.uri()), "events": ["ARTICLE_PUBLISHED"] }),
    )
    .await;
    // Bob's webhook hears nothing of Ada's content.
    let (_, _) = create(
        &app,
        &bob,
        json!({ "url": format!("{}/bob", receiver.uri()), "events": ["ARTICLE_PUBLISHED", "COMMENT_CREATED"] }),
    )
    .await;

    let article = publish(&app, &ada, "Hooks Everywhere").await;
    comment(&app, &bob, &article, "Nice **hooks**").await;
    app.drain_jobs().await;

    let requests = receiver.received_requests().await.unwrap();
    let to = |p: &str| -> Vec<&wiremock::Request> {
        requests.iter().filter(|r| r.url.path() == p).collect()
    };
    assert!(
        to("/bob")
            .iter()
            .all(|r| header(r, "x-vibecoding-event") != "ARTICLE_PUBLISHED")
    );
    let chosen_requests = to("/chosen");
    assert_eq!(chosen_requests.len(), 2, "{requests:?}");
    let published = chosen_requests
        .iter()
        .find(|r| header(r, "x-vibecoding-event") == "ARTICLE_PUBLISHED")
        .expect("the publication");
    let body = verified(published, &secret);
    assert_eq!(body["event"], "ARTICLE_PUBLISHED");
    assert_eq!(body["subject"], json!({ "type": "Article", "id": article }));
    assert_eq!(
        body["data"],
        json!({ "title": "Hooks Everywhere", "author": { "username": "ada" } }),
        "exactly the selection's shape"
    );
    assert!(body["id"].is_string() && body["occurredAt"].is_string());
    assert_eq!(body["webhookId"], chosen.as_str());
    assert_eq!(header(published, "content-type"), "application/json");
    let commented = chosen_requests
        .iter()
        .find(|r| header(r, "x-vibecoding-event") == "COMMENT_CREATED")
        .expect("the comment");
    let body = verified(commented, &secret);
    assert_eq!(
        body["data"],
        json!({ "bodyMarkdown": "Nice **hooks**", "article": { "title": "Hooks Everywhere" } })
    );
    // A tampered body fails the check.
    let mut tampered = (*published).clone();
    tampered.body = b"{\"event\":\"ARTICLE_PUBLISHED\"}".to_vec();
    let result = std::panic::catch_unwind(|| verified(&tampered, &secret));
    assert!(result.is_err(), "a changed body does not verify");

    // Without a selection: the default one for articles.
    let plain_request = to("/plain");
    assert_eq!(plain_request.len(), 1);
    let body = verified(plain_request[0], &plain_secret);
    assert_eq!(body["data"]["title"], "Hooks Everywhere");
    assert_eq!(body["data"]["author"]["username"], "ada");
    assert_eq!(body["data"]["status"], "PUBLISHED");
    assert!(body["data"]["url"].as_str().unwrap().starts_with("http"));

    // The deliveries, as the owner sees them; the secret is never shown again.
    let node = deliveries(&app, &ada, &plain).await;
    let delivery = &node["deliveries"]["nodes"][0];
    assert_eq!(node["deliveries"]["totalCount"], 1);
    assert_eq!(delivery["status"], "SUCCEEDED");
    assert_eq!(delivery["attempt"], 1);
    assert_eq!(delivery["responseCode"], 200);
    assert_eq!(delivery["responseExcerpt"], "thanks");
    assert_eq!(delivery["event"], "ARTICLE_PUBLISHED");
    assert!(
        delivery["requestExcerpt"]
            .as_str()
            .unwrap()
            .contains("Hooks Everywhere")
    );
    // Others' webhooks and deliveries are not there for Bob.
    let theirs = app.ok(Some(&bob), DELIVERIES, json!({ "id": plain })).await;
    assert_eq!(theirs["node"], Value::Null);
    let listed = app
        .ok(
            Some(&ada),
            "{ viewer { webhooks { id url events } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["viewer"]["webhooks"].as_array().unwrap().len(), 2);

    // A PING, on request.
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { pingWebhook(input: { id: $id }) { userErrors { field message code } delivery { status event } } }",
        json!({ "id": plain }),
    )
    .await;
    app.drain_jobs().await;
    let requests = receiver.received_requests().await.unwrap();
    let ping = requests
        .iter()
        .find(|r| header(r, "x-vibecoding-event") == "PING")
        .expect("a ping");
    assert_eq!(verified(ping, &plain_secret)["event"], "PING");

    // A job run twice sends nothing twice: the delivery's attempt is recorded.
    let before = receiver.received_requests().await.unwrap().len();
    let id: uuid::Uuid = header(plain_request[0], "x-vibecoding-delivery")
        .parse()
        .unwrap();
    sqlx::query("INSERT INTO jobs (id, kind, payload) VALUES ($1, 'deliver_webhook', $2)")
        .bind(uuid::Uuid::now_v7())
        .bind(json!({ "kind": "deliver_webhook", "delivery_id": id, "attempt": 1 }))
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
    assert_eq!(receiver.received_requests().await.unwrap().len(), before);
}

#[tokio::test]
async fn selections_are_checked_when_saved() {
    let app = app_with_receiver(5).await;
    let ada = app.member("ada").await;
    let url = "http://127.0.0.1:9/hook";
    let attempt = |input: Value| {
        let app = &app;
        let ada = ada.clone();
        async move {
            app.graphql_as(Some(&ada), CREATE, json!({ "i": input }))
                .await
                .1
        }
    };
    // A selection on a type the event's subject can never be.
    let body = attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": "fragment on Comment { bodyMarkdown }" })).await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "selection"),
        "{body}"
    );
    assert!(message(&body).contains("ARTICLE_PUBLISHED"), "{body}");
    // A field that does not exist.
    let body = attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": "fragment on Article { nope }" })).await;
    assert_eq!(field(&body), "selection", "{body}");
    // Closing the set early to add an operation of its own.
    let body = attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": "{ title } } mutation M { deleteAccount(input: {}) { clientMutationId } " })).await;
    assert_eq!(field(&body), "selection", "{body}");
    let body = attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": "{ title } fragment X on Article { id }" })).await;
    assert_eq!(field(&body), "selection", "{body}");
    // Too deep for the guard that every request passes.
    let deep = format!(
        "{{ {} id {} }}",
        "author { articles(first: 1) { nodes { ".repeat(8),
        "} } }".repeat(8)
    );
    let body =
        attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": deep })).await;
    assert_eq!(field(&body), "selection", "{body}");
    // Brackets nested to exhaust the parser's recursion: refused before it runs.
    let nested = format!("{{ title(a: {}", "[".repeat(3_980));
    let body =
        attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": nested })).await;
    assert_eq!(field(&body), "selection", "{body}");
    assert!(message(&body).contains("nests"), "{body}");
    // More work than a payload may cost, though a query may cost it.
    let costly =
        "{ author { articles(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } }";
    let body =
        attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "selection": costly })).await;
    assert_eq!(field(&body), "selection", "{body}");
    assert!(message(&body).to_lowercase().contains("complex"), "{body}");
    // One selection on Article cannot serve a reaction, whose subject may be a comment.
    let body = attempt(json!({ "url": url, "events": ["REACTION_CREATED"], "selection": "fragment on Article { title }" })).await;
    assert_eq!(field(&body), "selection", "{body}");
    // Several fields wrong: each reported.
    let body = attempt(json!({ "url": "ftp://x", "events": [], "selection": "nonsense" })).await;
    let errors: Vec<&str> = body["data"]["createWebhook"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"][1].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["events", "url", "selection"], "{body}");
    // Instance webhooks and events are for admins.
    let body = attempt(json!({ "url": url, "events": ["MEMBER_JOINED"] })).await;
    assert_eq!(field(&body), "events", "{body}");
    let body =
        attempt(json!({ "url": url, "events": ["ARTICLE_PUBLISHED"], "scope": "INSTANCE" })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
    // A selection that fits: `{ ... }` applies to each subject type on its own.
    let body = attempt(json!({ "url": url, "events": ["REACTION_CREATED", "FOLLOWER_GAINED"], "selection": "{ id }" })).await;
    assert!(
        body["data"]["createWebhook"]["userErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{body}"
    );

    // An admin's instance webhook hears of new members.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/instance"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    app.set_role("ada", "admin").await;
    let (_, secret) = create(
        &app,
        &ada,
        json!({ "url": format!("{}/instance", receiver.uri()), "events": ["MEMBER_JOINED"], "scope": "INSTANCE", "selection": "fragment on User { username }" }),
    )
    .await;
    app.register("newcomer").await;
    app.drain_jobs().await;
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body = verified(&requests[0], &secret);
    assert_eq!(body["event"], "MEMBER_JOINED");
    assert_eq!(body["data"], json!({ "username": "newcomer" }));
}

#[tokio::test]
async fn failures_are_retried_then_disable_the_webhook_and_can_be_redelivered() {
    let receiver = MockServer::start().await;
    // The first attempt meets a 500, the second succeeds.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = app_with_receiver(3).await;
    let ada = app.member("ada").await;
    let (hook, _) = create(
        &app,
        &ada,
        json!({ "url": format!("{}/h", receiver.uri()), "events": ["ARTICLE_PUBLISHED", "ARTICLE_UPDATED"] }),
    )
    .await;
    publish(&app, &ada, "First Try").await;
    app.drain_jobs().await;
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        header(&requests[0], "x-vibecoding-delivery"),
        header(&requests[1], "x-vibecoding-delivery"),
        "a retry is the same delivery"
    );
    let node = deliveries(&app, &ada, &hook).await;
    let delivery = &node["deliveries"]["nodes"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempt"].as_i64()),
        (Some("SUCCEEDED"), Some(2))
    );
    assert_eq!(
        node["failingSince"],
        Value::Null,
        "a success ends the run of failures"
    );

    // Now the receiver is down: a delivery runs out of attempts.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&receiver)
        .await;
    let second = publish(&app, &ada, "Second Try").await;
    app.drain_jobs().await;
    assert_eq!(
        receiver.received_requests().await.unwrap().len(),
        3,
        "max_attempts = 3"
    );
    let node = deliveries(&app, &ada, &hook).await;
    let failed = node["deliveries"]["nodes"][0].clone();
    assert_eq!(
        (
            failed["status"].as_str(),
            failed["attempt"].as_i64(),
            failed["responseCode"].as_i64()
        ),
        (Some("FAILED"), Some(3), Some(503))
    );
    assert!(
        node["active"].as_bool().unwrap(),
        "a few hours of failures do not disable"
    );
    assert!(node["failingSince"].is_string());

    // A day of failures: the next failed attempt disables it, and its owner is told.
    sqlx::query("UPDATE webhooks SET failing_since = now() - interval '25 hours'")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.ok(
        Some(&ada),
        "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id } } }",
        json!({ "i": { "id": second, "title": "Second Try, edited" } }),
    )
    .await;
    app.drain_jobs().await;
    let node = deliveries(&app, &ada, &hook).await;
    assert_eq!(node["active"], false);
    assert!(
        node["disabledReason"]
            .as_str()
            .unwrap()
            .contains("24 hours"),
        "{node}"
    );
    let mails: Vec<_> = app
        .emails()
        .into_iter()
        .filter(|m| m.subject.contains("webhook"))
        .collect();
    assert_eq!(mails.len(), 1, "told once");
    assert_eq!(mails[0].to, "ada@example.com");
    // Disabled, it hears nothing more and cannot redeliver.
    let requests_before = receiver.received_requests().await.unwrap().len();
    publish(&app, &ada, "Unheard").await;
    app.drain_jobs().await;
    assert_eq!(
        receiver.received_requests().await.unwrap().len(),
        requests_before
    );
    const REDELIVER: &str = "mutation($d: ID!) { redeliverWebhookDelivery(input: { deliveryId: $d }) { userErrors { field message code } delivery { status attempt } } }";
    let (_, body) = app
        .graphql_as(Some(&ada), REDELIVER, json!({ "d": failed["id"] }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // The receiver is back: on again, and the failed delivery sent again.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let data = app
        .ok(
            Some(&ada),
            "mutation($id: ID!) { updateWebhook(input: { id: $id, active: true }) { userErrors { field message code } webhook { active } } }",
            json!({ "id": hook }),
        )
        .await;
    assert_eq!(data["updateWebhook"]["webhook"]["active"], true);
    let data = app
        .ok(Some(&ada), REDELIVER, json!({ "d": failed["id"] }))
        .await;
    assert_eq!(
        data["redeliverWebhookDelivery"]["delivery"]["status"],
        "PENDING"
    );
    app.drain_jobs().await;
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["id"], failed["id"], "the same delivery, by id");
    assert_eq!(body["data"]["title"], "Second Try");
    let node = deliveries(&app, &ada, &hook).await;
    let again = node["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == failed["id"])
        .unwrap()
        .clone();
    assert_eq!(
        (again["status"].as_str(), again["attempt"].as_i64()),
        (Some("SUCCEEDED"), Some(4))
    );

    // Another member cannot redeliver it; nobody can delete what is not theirs.
    let bob = app.member("bob").await;
    let body = app
        .fails(
            Some(&bob),
            REDELIVER,
            json!({ "d": failed["id"] }),
            "NOT_FOUND",
        )
        .await;
    assert!(message(&body).contains("delivery"));
    app.fails(
        Some(&bob),
        "mutation($id: ID!) { deleteWebhook(input: { id: $id }) { userErrors { field message code } deletedWebhookId } }",
        json!({ "id": hook }),
        "NOT_FOUND",
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { deleteWebhook(input: { id: $id }) { userErrors { field message code } deletedWebhookId } }",
        json!({ "id": hook }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries").await,
        0
    );
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let app = spawn_app_with(Default::default(), |s| s.outbound.allow_http = false).await;
    let ada = app.member("ada").await;
    let refused = |url: &'static str| {
        let app = &app;
        let ada = ada.clone();
        async move {
            let (_, body) = app
                .graphql_as(
                    Some(&ada),
                    CREATE,
                    json!({ "i": { "url": url, "events": ["ARTICLE_PUBLISHED"] } }),
                )
                .await;
            assert_eq!(
                (code(&body), field(&body)),
                ("BAD_USER_INPUT", "url"),
                "{url}: {body}"
            );
            message(&body).to_owned()
        }
    };
    assert!(refused("http://example.com/hook").await.contains("https"));
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://[::ffff:192.168.1.1]/hook",
        "https://100.64.0.1/hook",
    ] {
        assert!(refused(url).await.contains("private"), "{url}");
    }
    assert!(
        refused("https://user:pw@example.com/")
            .await
            .contains("user name")
    );
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);

    // A webhook saved while its network was allowed is not sent once it no longer is:
    // every delivery checks the address again.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let open = app_with_receiver(1).await;
    let bob = open.member("bob").await;
    let (hook, _) = create(
        &open,
        &bob,
        json!({ "url": format!("{}/h", receiver.uri()), "events": ["ARTICLE_PUBLISHED"] }),
    )
    .await;
    let mut closed = open
        .second_node_with(Default::default(), |s| {
            s.outbound.allow_http = true;
            s.outbound.allowed_networks = Vec::new();
            s.webhooks.max_attempts = 1;
        })
        .await;
    publish(&closed, &bob, "Kept Inside").await;
    closed.drain_jobs().await;
    assert!(receiver.received_requests().await.unwrap().is_empty());
    let node = deliveries(&closed, &bob, &hook).await;
    let delivery = &node["deliveries"]["nodes"][0];
    assert_eq!(delivery["status"], "FAILED");
    assert_eq!(delivery["responseCode"], Value::Null);
    assert!(
        delivery["error"].as_str().unwrap().contains("private"),
        "{delivery}"
    );
    closed.stop().await;
}
