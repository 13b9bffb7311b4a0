//! Notifications: made by the worker, grouped, muted, read, and pushed live.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, WsClient, code, spawn_app};

const INBOX: &str = "query($u: Boolean) { viewer { unreadNotificationsCount notifications(unreadOnly: $u) { edges { node { id kind message actorsCount read actors { username } article { title } comment { bodyMarkdown } } } } } }";

async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    let data = app.ok(Some(token), INBOX, json!({})).await;
    data["viewer"]["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn id_of(app: &TestApp, query: &str) -> Value {
    let data = app.ok(None, query, json!({})).await;
    data.as_object().unwrap().values().next().unwrap()["id"].clone()
}

#[tokio::test]
async fn comments_replies_mentions_reactions_and_followers() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let eve = app.member("eve").await;
    let carl = app.member("carl").await;
    let article = app.ok(Some(&ada), "mutation { createArticle(input: { title: \"Notify me\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();
    let comment = "mutation($a: ID!, $p: ID, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    let bobs = app
        .ok(
            Some(&bob),
            comment,
            json!({ "a": article, "b": "Nice one" }),
        )
        .await["createComment"]["comment"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        comment,
        json!({ "a": article, "p": bobs, "b": "Thanks! cc @eve" }),
    )
    .await;
    // Nothing is written inside the requests.
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 0);
    app.drain_jobs().await;

    let adas = inbox(&app, &ada).await;
    assert_eq!(adas.len(), 1, "nothing for my own reply: {adas:?}");
    assert_eq!(adas[0]["kind"], "COMMENT");
    assert_eq!(adas[0]["message"], "bob commented on your article");
    assert_eq!(adas[0]["comment"]["bodyMarkdown"], "Nice one");
    let bobs_inbox = inbox(&app, &bob).await;
    assert_eq!(
        (
            bobs_inbox[0]["kind"].clone(),
            bobs_inbox[0]["message"].clone()
        ),
        (json!("REPLY"), json!("ada replied to your comment"))
    );
    let eves = inbox(&app, &eve).await;
    assert_eq!(
        (eves[0]["kind"].clone(), eves[0]["article"]["title"].clone()),
        (json!("MENTION"), json!("Notify me"))
    );

    // Reactions on one item in a day share one notification; each member counts once.
    let toggle = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    for (token, category) in [
        (&bob, "like"),
        (&bob, "unicorn"),
        (&eve, "like"),
        (&carl, "fire"),
        (&ada, "fire"),
    ] {
        app.ok(Some(token), toggle, json!({ "id": article, "c": category }))
            .await;
    }
    app.ok(
        Some(&bob),
        toggle,
        json!({ "id": article, "c": "readinglist" }),
    )
    .await;
    app.drain_jobs().await;
    let adas = inbox(&app, &ada).await;
    let reaction = adas.iter().find(|n| n["kind"] == "REACTION").unwrap();
    assert_eq!(reaction["actorsCount"], 3, "{reaction}");
    assert_eq!(
        reaction["message"],
        "carl and 2 others reacted to your article"
    );
    assert_eq!(
        reaction["actors"],
        json!([{ "username": "carl" }, { "username": "eve" }, { "username": "bob" }])
    );

    // New followers, grouped.
    let ada_id = id_of(&app, "{ user(username: \"ada\") { id } }").await;
    for token in [&bob, &eve] {
        app.ok(
            Some(token),
            "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
            json!({ "id": ada_id }),
        )
        .await;
    }
    app.drain_jobs().await;
    let adas = inbox(&app, &ada).await;
    let followers = adas.iter().find(|n| n["kind"] == "FOLLOWER").unwrap();
    assert_eq!(
        (
            followers["actorsCount"].clone(),
            followers["message"].clone()
        ),
        (json!(2), json!("eve and 1 other followed you"))
    );

    // Reading.
    let data = app.ok(Some(&ada), INBOX, json!({ "u": true })).await;
    assert_eq!(data["viewer"]["unreadNotificationsCount"], 3);
    let one = adas[0]["id"].clone();
    let data = app
        .ok(
            Some(&ada),
            "mutation($ids: [ID!]!) { markNotificationsRead(input: { ids: $ids }) { userErrors { field message code } markedCount notifications { id read } viewer { unreadNotificationsCount } } }",
            json!({ "ids": [one] }),
        )
        .await;
    assert_eq!(
        data["markNotificationsRead"],
        json!({
            "userErrors": [],
            "markedCount": 1,
            "notifications": [{ "id": one, "read": true }],
            "viewer": { "unreadNotificationsCount": 2 },
        })
    );
    assert_eq!(
        app.ok(Some(&ada), INBOX, json!({ "u": true })).await["viewer"]["notifications"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Another's ids change nothing.
    let bob_notification = inbox(&app, &bob).await[0]["id"].clone();
    let data = app
        .ok(
            Some(&ada),
            "mutation($ids: [ID!]!) { markNotificationsRead(input: { ids: $ids }) { userErrors { field message code } markedCount notifications { id } } }",
            json!({ "ids": [bob_notification] }),
        )
        .await;
    assert_eq!(
        data["markNotificationsRead"],
        json!({ "userErrors": [], "markedCount": 0, "notifications": [] }),
        "another's notification is neither changed nor shown"
    );
    assert_eq!(
        app.ok(
            Some(&ada),
            "mutation { markAllNotificationsRead { markedCount viewer { unreadNotificationsCount } } }",
            json!({})
        )
        .await["markAllNotificationsRead"],
        json!({ "markedCount": 2, "viewer": { "unreadNotificationsCount": 0 } })
    );
    assert_eq!(
        app.ok(Some(&ada), INBOX, json!({})).await["viewer"]["unreadNotificationsCount"],
        0
    );
    // A new reaction re-opens the day's group as unread.
    let dan = app.member("dan").await;
    app.ok(Some(&dan), toggle, json!({ "id": article, "c": "like" }))
        .await;
    app.drain_jobs().await;
    assert_eq!(
        app.ok(Some(&ada), INBOX, json!({})).await["viewer"]["unreadNotificationsCount"],
        1
    );

    // Signed out there is no viewer, and so no notifications.
    let (_, body) = app.graphql(INBOX, json!({})).await;
    assert_eq!(body, json!({ "data": { "viewer": null } }));
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            "mutation { markNotificationsRead(input: { ids: [\"nope\"] }) { userErrors { field message code } markedCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn muted_kinds_and_vanished_content_make_nothing_and_old_read_ones_are_purged() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let article = app.ok(Some(&ada), "mutation { createArticle(input: { title: \"Quiet\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();
    let data = app
        .ok(
            Some(&ada),
            "mutation { updateMutedNotifications(input: { muted: [REACTION] }) { userErrors { field message code } muted viewer { mutedNotifications } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["updateMutedNotifications"],
        json!({ "userErrors": [], "muted": ["REACTION"], "viewer": { "mutedNotifications": ["REACTION"] } })
    );
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }",
        json!({ "id": article }),
    )
    .await;
    // A comment whose article goes back to draft before the worker runs tells nobody.
    app.ok(
        Some(&bob),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"hi\" }) { userErrors { field message code } comment { id } } }",
        json!({ "a": article }),
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": article }),
    )
    .await;
    app.drain_jobs().await;
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 0);
    assert_eq!(
        app.ok(Some(&ada), "{ viewer { mutedNotifications } }", json!({}))
            .await["viewer"]["mutedNotifications"],
        json!(["REACTION"])
    );

    let bob_id = app
        .ok(Some(&bob), "{ viewer { user { id } } }", json!({}))
        .await["viewer"]["user"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": bob_id }),
    )
    .await;
    app.drain_jobs().await;
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 1);
    sqlx::query("UPDATE notifications SET read_at = now() - interval '91 days'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    vibecoding::jobs::enqueue(&mut conn, &vibecoding::jobs::Job::PurgeNotifications {})
        .await
        .unwrap();
    drop(conn);
    app.drain_jobs().await;
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 0);
}

#[tokio::test]
async fn notifications_are_pushed_to_the_member_on_any_node() {
    let a = spawn_app().await;
    let b = a.second_node(Options::default()).await;
    let ada = a.member("ada").await;
    let bob = a.member("bob").await;
    let article = a.ok(Some(&ada), "mutation { createArticle(input: { title: \"Push\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();

    let (socket, _) = crate::helpers::ws_handshake(&b.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut ws = WsClient {
        socket,
        protocol: "graphql-transport-ws".into(),
    };
    ws.send(json!({ "type": "connection_init", "payload": { "token": ada } }))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe(
        "n",
        "subscription { notificationReceived { kind message } }",
    )
    .await;
    ws.settle().await;
    // Node B's listener must be connected before the event is published.
    let mut probe = b.state.pubsub.subscribe("probe");
    loop {
        a.state.pubsub.publish("probe", "{}").await.unwrap();
        if tokio::time::timeout(Duration::from_millis(200), probe.recv())
            .await
            .is_ok()
        {
            break;
        }
    }
    a.ok(
        Some(&bob),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Live!\" }) { userErrors { field message code } comment { id } } }",
        json!({ "a": article }),
    )
    .await;
    a.drain_jobs().await;
    let message = tokio::time::timeout(Duration::from_secs(5), ws.next_json())
        .await
        .expect("pushed in time");
    assert_eq!(
        message["payload"]["data"]["notificationReceived"],
        json!({ "kind": "COMMENT", "message": "bob commented on your article" }),
        "{message}"
    );

    // Anonymous connections cannot subscribe to notifications.
    let mut anonymous = b.ws_connect("graphql-transport-ws", None).await;
    anonymous
        .subscribe("n", "subscription { notificationReceived { kind } }")
        .await;
    let message = anonymous.next_json().await;
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{message}"
    );
}

#[tokio::test]
async fn notifications_about_content_gone_from_view_are_not_listed() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let article = app.ok(Some(&ada), "mutation { createArticle(input: { title: \"Soon gone\", bodyMarkdown: \"x\", published: true }) { userErrors { field message code } article { id } } }", json!({})).await["createArticle"]["article"]["id"].clone();
    let comment = app
        .ok(
            Some(&bob),
            "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Hello\" }) { userErrors { field message code } comment { id } } }",
            json!({ "a": article }),
        )
        .await["createComment"]["comment"]["id"]
        .clone();
    app.drain_jobs().await;
    assert_eq!(
        app.ok(Some(&ada), INBOX, json!({})).await["viewer"]["unreadNotificationsCount"],
        1
    );
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { hideComment(input: { id: $id }) { userErrors { field message code } comment { isHidden } } }",
        json!({ "id": comment }),
    )
    .await;
    let data = app.ok(Some(&ada), INBOX, json!({})).await;
    assert_eq!(
        (
            data["viewer"]["unreadNotificationsCount"].clone(),
            data["viewer"]["notifications"]["edges"].clone()
        ),
        (json!(0), json!([]))
    );
}
