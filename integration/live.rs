//! Live subscriptions across nodes: events written on one node reach subscribers on another
//! through Redis, re-read and checked for visibility on the way.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, WsClient, spawn_app};
use crate::proxy::Mode;

/// Waits until `node`'s event listener hears what `from` publishes.
async fn wait_until_connected(from: &TestApp, node: &TestApp) {
    let mut probe = node.state.pubsub.subscribe("probe");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        from.state.pubsub.publish("probe", "{}").await.unwrap();
        if tokio::time::timeout(Duration::from_millis(200), probe.recv())
            .await
            .is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the second node never heard the first"
        );
    }
}

async fn subscribe(node: &TestApp, protocol: &str, token: Option<&str>, query: &str) -> WsClient {
    let (socket, _) = crate::helpers::ws_handshake(&node.ws_url(), protocol, None)
        .await
        .unwrap();
    let mut ws = WsClient {
        socket,
        protocol: protocol.to_owned(),
    };
    let payload = token.map_or(json!({}), |t| json!({ "token": t }));
    ws.send(json!({ "type": "connection_init", "payload": payload }))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe("live", query).await;
    ws
}

/// The next data payload, or `None` when nothing comes within `wait`.
async fn next_data(ws: &mut WsClient, wait: Duration) -> Option<Value> {
    let message = tokio::time::timeout(wait, ws.next_json()).await.ok()?;
    assert!(message["payload"]["errors"].is_null(), "{message}");
    Some(message["payload"]["data"].clone())
}

#[tokio::test]
async fn comments_articles_and_reactions_reach_subscribers_on_another_node() {
    let a = spawn_app().await;
    let b = a.second_node(Options::default()).await;
    wait_until_connected(&a, &b).await;
    let ada = a.member("ada").await;
    let bob = a.member("bob").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
    let article = a.ok(Some(&ada), create, json!({ "i": { "title": "Live", "bodyMarkdown": "x", "tags": ["rust"], "published": true } })).await["createArticle"]["article"]["id"].clone();

    let mut comments = subscribe(&b, "graphql-transport-ws", None, &format!("subscription {{ commentAdded(articleId: \"{}\") {{ bodyHtml author {{ username }} }} }}", article.as_str().unwrap())).await;
    let mut legacy = subscribe(
        &b,
        "graphql-ws",
        Some(&bob),
        &format!(
            "subscription {{ commentAdded(articleId: \"{}\") {{ bodyMarkdown }} }}",
            article.as_str().unwrap()
        ),
    )
    .await;
    let mut articles = subscribe(
        &b,
        "graphql-transport-ws",
        None,
        "subscription { articlePublished(tag: \"rust\") { title author { username } } }",
    )
    .await;
    let mut counts = subscribe(&b, "graphql-transport-ws", None, &format!("subscription {{ reactionCountsChanged(articleId: \"{}\") {{ reactionsCount reactionCounts {{ category count }} }} }}", article.as_str().unwrap())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let comment = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    a.ok(
        Some(&bob),
        comment,
        json!({ "a": article, "b": "Hello from node A" }),
    )
    .await;
    let data = next_data(&mut comments, Duration::from_secs(5))
        .await
        .expect("the comment arrived");
    assert_eq!(
        data["commentAdded"],
        json!({ "bodyHtml": "<p>Hello from node A</p>\n", "author": { "username": "bob" } })
    );
    let data = next_data(&mut legacy, Duration::from_secs(5))
        .await
        .expect("the comment arrived (graphql-ws)");
    assert_eq!(data["commentAdded"]["bodyMarkdown"], "Hello from node A");

    // A draft never reaches subscribers, even if an event names it; publishing it does.
    let draft = a
        .ok(
            Some(&ada),
            create,
            json!({ "i": { "title": "Not yet", "bodyMarkdown": "x", "tags": ["rust"] } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    let raw_id =
        vibecoding::graphql::node::decode(&async_graphql::ID(draft.as_str().unwrap().to_owned()))
            .unwrap()
            .1;
    vibecoding::events::publish(&a.state.pubsub, vibecoding::events::ARTICLES, raw_id).await;
    assert!(
        next_data(&mut articles, Duration::from_millis(500))
            .await
            .is_none(),
        "a draft leaked"
    );
    a.ok(
        Some(&ada),
        "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": draft }),
    )
    .await;
    let data = next_data(&mut articles, Duration::from_secs(5))
        .await
        .expect("the article arrived");
    assert_eq!(
        data["articlePublished"],
        json!({ "title": "Not yet", "author": { "username": "ada" } })
    );

    // Public reactions are announced; bookmarks are private and are not.
    let toggle = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    a.ok(
        Some(&bob),
        toggle,
        json!({ "id": article, "c": "readinglist" }),
    )
    .await;
    a.ok(Some(&bob), toggle, json!({ "id": article, "c": "fire" }))
        .await;
    let data = next_data(&mut counts, Duration::from_secs(5))
        .await
        .expect("the counts arrived");
    assert_eq!(
        data["reactionCountsChanged"],
        json!({ "reactionsCount": 1, "reactionCounts": [{ "category": "fire", "count": 1 }] })
    );

    // Subscribing to an article that does not exist, or to a draft, is refused.
    let nowhere = vibecoding::graphql::node::encode("Article", uuid::Uuid::nil());
    let hidden = a
        .ok(
            Some(&ada),
            create,
            json!({ "i": { "title": "Still a draft", "bodyMarkdown": "x" } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    for id in [nowhere.0.as_str(), hidden.as_str().unwrap()] {
        let mut refused = subscribe(
            &b,
            "graphql-transport-ws",
            Some(&ada),
            &format!("subscription {{ commentAdded(articleId: \"{id}\") {{ id }} }}"),
        )
        .await;
        let message = refused.next_json().await;
        assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_scheduled_article_is_announced_when_the_worker_publishes_it() {
    let a = spawn_app().await;
    let b = a.second_node(Options::default()).await;
    wait_until_connected(&a, &b).await;
    let ada = a.member("ada").await;
    let mut articles = subscribe(
        &b,
        "graphql-transport-ws",
        None,
        "subscription { articlePublished(username: \"ada\") { title status } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    a.ok(Some(&ada), "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }", json!({ "i": { "title": "Tomorrow", "bodyMarkdown": "x", "published": true, "publishedAt": at } })).await;
    assert!(
        next_data(&mut articles, Duration::from_millis(400))
            .await
            .is_none(),
        "not before its time"
    );
    sqlx::query("UPDATE articles SET published_at = now()")
        .execute(&a.state.db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&a.state.db)
        .await
        .unwrap();
    a.drain_jobs().await;
    let data = next_data(&mut articles, Duration::from_secs(5))
        .await
        .expect("the worker's event arrived");
    assert_eq!(
        data["articlePublished"],
        json!({ "title": "Tomorrow", "status": "PUBLISHED" })
    );
}

#[tokio::test]
async fn delivery_resumes_after_redis_comes_back() {
    let a = spawn_app().await;
    let b = a
        .second_node(Options {
            redis_proxy: true,
            ..Default::default()
        })
        .await;
    wait_until_connected(&a, &b).await;
    let ada = a.member("ada").await;
    let article = a.ok(Some(&ada), "mutation { createArticle(input: { title: \"Up\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();
    let mut comments = subscribe(
        &b,
        "graphql-transport-ws",
        None,
        &format!(
            "subscription {{ commentAdded(articleId: \"{}\") {{ bodyMarkdown }} }}",
            article.as_str().unwrap()
        ),
    )
    .await;
    let proxy = b.redis_proxy.as_ref().unwrap();
    proxy.set(Mode::Down);
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.set(Mode::Up);
    // The WebSocket stayed open; once the listener is back, comments arrive again.
    let comment = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        n += 1;
        a.ok(
            Some(&ada),
            comment,
            json!({ "a": article, "b": format!("Attempt {n}") }),
        )
        .await;
        if let Some(data) = next_data(&mut comments, Duration::from_millis(500)).await {
            assert!(
                data["commentAdded"]["bodyMarkdown"]
                    .as_str()
                    .unwrap()
                    .starts_with("Attempt")
            );
            break;
        }
        assert!(Instant::now() < deadline, "delivery never resumed");
    }
}

#[tokio::test]
async fn connections_and_subscriptions_are_bounded() {
    let app = crate::helpers::spawn_app_with(Options::default(), |s| {
        s.http.max_subscriptions_per_connection = 2;
        s.http.max_ws_per_ip = 3;
        s.http.max_ws_per_member = 1;
    })
    .await;
    let clock = "subscription { serverTime(intervalMs: 1000) }";
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    ws.subscribe("1", clock).await;
    ws.subscribe("2", clock).await;
    ws.subscribe("3", clock).await;
    let refused = loop {
        let message = ws.next_json().await;
        if message["id"] == "3" {
            break message;
        }
    };
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    // Ending one frees its slot.
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.subscribe("4", clock).await;
    let accepted = loop {
        let message = ws.next_json().await;
        if message["id"] == "4" {
            break message;
        }
    };
    assert_eq!(accepted["type"], "next", "{accepted}");

    // One connection per member here; the second is refused at connection_init.
    let token = app.register("busy").await;
    let _first = subscribe(&app, "graphql-transport-ws", Some(&token), clock).await;
    let (socket, _) = crate::helpers::ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut second = WsClient {
        socket,
        protocol: "graphql-transport-ws".into(),
    };
    second
        .send(json!({ "type": "connection_init", "payload": { "token": token } }))
        .await;
    match second.next_message().await {
        tokio_tungstenite::tungstenite::Message::Close(Some(frame)) => {
            assert!(frame.reason.contains("Too many"), "{frame:?}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Three connections from this address are open (one closing); a fourth waits its turn.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _third = app.ws_connect("graphql-ws", None).await;
    match crate::helpers::ws_handshake(&app.ws_url(), "graphql-ws", None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!(
            "a fourth connection was let in: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
}

#[tokio::test]
async fn without_redis_a_single_node_still_delivers_live() {
    let app =
        crate::helpers::spawn_app_with(Options::default(), |s| s.redis_url = Some(String::new()))
            .await;
    let ada = app.member("ada").await;
    let article = app.ok(Some(&ada), "mutation { createArticle(input: { title: \"Solo\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();
    let mut ws = subscribe(
        &app,
        "graphql-transport-ws",
        None,
        &format!(
            "subscription {{ commentAdded(articleId: \"{}\") {{ bodyMarkdown }} }}",
            article.as_str().unwrap()
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.ok(
        Some(&ada),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"In process\" }) { userErrors { field message code } comment { id } } }",
        json!({ "a": article }),
    )
    .await;
    let data = next_data(&mut ws, Duration::from_secs(5))
        .await
        .expect("delivered by the in-process hub");
    assert_eq!(data["commentAdded"]["bodyMarkdown"], "In process");
}

/// Signed-out subscribers of the same operation share one run of it on their node: every
/// one of them gets every event, in order, on both protocols, one joining late gets the
/// events after it joined, and one leaving stops nobody else; a signed-in subscriber runs
/// its own (here: it blocked the author, and hears nothing).
#[tokio::test]
async fn signed_out_subscribers_share_one_run_and_each_gets_every_event() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let article = app
        .ok(Some(&ada), "mutation { createArticle(input: { title: \"Shared\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({}))
        .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_id = app
        .ok(None, "{ user(username: \"bob\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    let carol = app.member("carol").await;
    app.ok(
        Some(&carol),
        "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": bob_id }),
    )
    .await;
    let query = format!(
        "subscription {{ commentAdded(articleId: \"{article}\") {{ bodyMarkdown author {{ username }} }} }}"
    );
    let mut anonymous = Vec::new();
    for protocol in ["graphql-transport-ws", "graphql-ws", "graphql-transport-ws"] {
        anonymous.push(subscribe(&app, protocol, None, &query).await);
    }
    let mut blocking = subscribe(&app, "graphql-transport-ws", Some(&carol), &query).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let comment = |text: &str| json!({ "a": article, "b": text });
    let create = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    app.ok(Some(&bob), create, comment("First")).await;
    app.ok(Some(&bob), create, comment("Second")).await;
    for ws in &mut anonymous {
        for expected in ["First", "Second"] {
            let data = next_data(ws, Duration::from_secs(5))
                .await
                .expect("delivered");
            assert_eq!(data["commentAdded"]["bodyMarkdown"], expected);
            assert_eq!(data["commentAdded"]["author"]["username"], "bob");
        }
    }
    assert!(
        next_data(&mut blocking, Duration::from_millis(300))
            .await
            .is_none()
    );
    // One leaves, one joins: the others go on, and the newcomer hears what follows.
    drop(anonymous.remove(0));
    let mut late = subscribe(&app, "graphql-transport-ws", None, &query).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ok(Some(&ada), create, comment("Third")).await;
    for ws in anonymous.iter_mut().chain(std::iter::once(&mut late)) {
        let data = next_data(ws, Duration::from_secs(5))
            .await
            .expect("delivered");
        assert_eq!(data["commentAdded"]["bodyMarkdown"], "Third");
    }
    let data = next_data(&mut blocking, Duration::from_secs(5))
        .await
        .expect("not blocked");
    assert_eq!(data["commentAdded"]["author"]["username"], "ada");
}

#[tokio::test]
async fn a_thread_stays_in_step_live_with_edits_hides_and_deletions() {
    let a = spawn_app().await;
    let b = a.second_node(Options::default()).await;
    wait_until_connected(&a, &b).await;
    let ada = a.member("ada").await;
    let bob = a.member("bob").await;
    let cleo = a.member("cleo").await;
    a.set_role("cleo", "moderator").await;
    let article = a
        .ok(
            Some(&ada),
            "mutation { createArticle(input: { title: \"Lively\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }",
            json!({}),
        )
        .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let selection = "kind comment { id bodyMarkdown bodyHtml isHidden isDeleted editedAt }";
    let mut thread = subscribe(
        &b,
        "graphql-transport-ws",
        None,
        &format!("subscription {{ threadChanged(articleId: \"{article}\") {{ {selection} }} }}"),
    )
    .await;
    let mut added = subscribe(
        &b,
        "graphql-transport-ws",
        None,
        &format!("subscription {{ commentAdded(articleId: \"{article}\") {{ id }} }}"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut next = async || {
        next_data(&mut thread, Duration::from_secs(5))
            .await
            .expect("a thread change arrived")["threadChanged"]
            .clone()
    };

    let id = a
        .ok(
            Some(&bob),
            "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"First\" }) { userErrors { field message code } comment { id } } }",
            json!({ "a": article }),
        )
        .await["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = next().await;
    assert_eq!(
        (change["kind"].as_str(), change["comment"]["id"].as_str()),
        (Some("ADDED"), Some(id.as_str()))
    );

    a.ok(
        Some(&bob),
        "mutation($id: ID!) { updateComment(input: { id: $id, bodyMarkdown: \"First, edited\" }) { userErrors { field message code } comment { id } } }",
        json!({ "id": id }),
    )
    .await;
    let change = next().await;
    assert_eq!(change["kind"], "EDITED");
    assert_eq!(change["comment"]["bodyMarkdown"], "First, edited");
    assert!(change["comment"]["editedAt"].is_string(), "{change}");

    a.ok(
        Some(&ada),
        "mutation($id: ID!) { hideComment(input: { id: $id }) { userErrors { field message code } comment { id } } }",
        json!({ "id": id }),
    )
    .await;
    let change = next().await;
    assert_eq!(change["kind"], "HIDDEN");
    assert_eq!(change["comment"]["isHidden"], true);
    assert_eq!(
        change["comment"]["bodyMarkdown"],
        Value::Null,
        "hidden from a signed-out reader"
    );

    a.ok(
        Some(&cleo),
        "mutation($id: ID!) { moderateComment(input: { id: $id, action: UNHIDE, reason: \"fine after all\" }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": id }),
    )
    .await;
    let change = next().await;
    assert_eq!(change["kind"], "SHOWN");
    assert_eq!(change["comment"]["isHidden"], false);

    a.ok(
        Some(&bob),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { userErrors { field message code } comment { id } } }",
        json!({ "id": id }),
    )
    .await;
    let change = next().await;
    assert_eq!(change["kind"], "DELETED");
    assert_eq!(change["comment"]["isDeleted"], true);
    assert_eq!(change["comment"]["bodyHtml"], "[deleted]");

    // commentAdded keeps to new comments: one event, none for the changes.
    let first = next_data(&mut added, Duration::from_secs(5))
        .await
        .expect("the new comment");
    assert_eq!(first["commentAdded"]["id"], id.as_str());
    assert!(
        next_data(&mut added, Duration::from_millis(300))
            .await
            .is_none()
    );
}
