//! Notifications by email: batched, skipped when read in the app, one-click unsubscribe;
//! per-kind channels, per-thread levels, and the weekly digest.

use chrono::TimeZone as _;
use serde_json::json;

use crate::helpers::{Mail, TestApp, code, field, spawn_app, spawn_app_with};

const PUBLISH: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
const COMMENT: &str = "mutation($a: ID!, $b: String!, $p: ID) { createComment(input: { articleId: $a, bodyMarkdown: $b, parentId: $p }) { userErrors { field message code } comment { id } } }";

async fn publish(app: &TestApp, token: &str, title: &str, tags: &[&str]) -> String {
    app.ok(
        Some(token),
        PUBLISH,
        json!({ "i": { "title": title, "bodyMarkdown": "Words.", "tags": tags, "published": true } }),
    )
    .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(
    app: &TestApp,
    token: &str,
    article: &str,
    body: &str,
    parent: Option<&str>,
) -> String {
    app.ok(
        Some(token),
        COMMENT,
        json!({ "a": article, "b": body, "p": parent }),
    )
    .await["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Notification and digest messages (not the account ones).
fn notices(app: &TestApp, to: &str) -> Vec<Mail> {
    app.emails()
        .into_iter()
        .filter(|m| m.to == to && m.text.contains("List-Unsubscribe"))
        .collect()
}

/// Closes every waiting batch, as ten minutes passing would, and runs the worker.
async fn close_batches(app: &TestApp) {
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'mail_notifications'")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
}

fn unsubscribe_url(mail: &Mail) -> String {
    let start = mail.text.find("List-Unsubscribe: <").unwrap() + "List-Unsubscribe: <".len();
    mail.text[start..].split('>').next().unwrap().to_owned()
}

#[tokio::test]
async fn reply_emails_are_batched_skipped_when_read_and_unsubscribed_with_one_post() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cyd = app.member("cyd").await;
    let article = publish(&app, &ada, "Batching Mail", &[]).await;

    // Two comments within the batch: one message, when the batch closes.
    let first = comment(&app, &bob, &article, "First!", None).await;
    comment(&app, &cyd, &article, "Second, with **bold**", None).await;
    app.drain_jobs().await;
    assert!(
        notices(&app, "ada@example.com").is_empty(),
        "nothing before the batch closes"
    );
    close_batches(&app).await;
    let mails = notices(&app, "ada@example.com");
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.subject, "2 new comments, replies and mentions");
    assert!(
        mail.text.contains("bob commented on \"Batching Mail\""),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("cyd commented on"), "{}", mail.text);
    assert!(
        mail.text
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("http://localhost:3000/ada/batching-mail"),
        "{}",
        mail.text
    );

    // Read in the app before the batch closes: no message.
    comment(&app, &bob, &article, "Third", None).await;
    app.drain_jobs().await;
    app.ok(
        Some(&ada),
        "mutation { markAllNotificationsRead { userErrors { field message code } } }",
        json!({}),
    )
    .await;
    close_batches(&app).await;
    assert_eq!(
        notices(&app, "ada@example.com").len(),
        1,
        "read, so not mailed"
    );

    // A reply: its own message to the one answered.
    comment(&app, &ada, &article, "Thanks @cyd", Some(&first)).await;
    app.drain_jobs().await;
    close_batches(&app).await;
    let to_bob = notices(&app, "bob@example.com");
    assert_eq!(to_bob.len(), 1);
    assert_eq!(
        to_bob[0].subject,
        "ada replied to your comment on \"Batching Mail\""
    );
    let to_cyd = notices(&app, "cyd@example.com");
    assert_eq!(to_cyd[0].subject, "ada mentioned you on \"Batching Mail\"");

    // The address in the message: a GET shows a button and changes nothing...
    let url = unsubscribe_url(mail);
    let path = url.strip_prefix("http://localhost:3000").unwrap();
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("method=\"post\""));
    let channels = "{ viewer { notificationChannels { kind channel } } }";
    let before = app.ok(Some(&ada), channels, json!({})).await;
    assert!(
        before
            .to_string()
            .contains("{\"channel\":\"IN_APP_AND_EMAIL\",\"kind\":\"COMMENT\"}"),
        "{before}"
    );
    // ...and one POST, with no session, as RFC 8058 has mail clients send it, unsubscribes.
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after = app.ok(Some(&ada), channels, json!({})).await;
    for setting in after["viewer"]["notificationChannels"].as_array().unwrap() {
        assert_ne!(setting["channel"], "IN_APP_AND_EMAIL", "{after}");
        assert_ne!(setting["channel"], "OFF", "still in the app: {after}");
    }
    comment(&app, &bob, &article, "Fourth", None).await;
    app.drain_jobs().await;
    close_batches(&app).await;
    assert_eq!(notices(&app, "ada@example.com").len(), 1, "no more mail");
    assert_eq!(
        app.count("SELECT count(*) FROM notification_mail_queue")
            .await,
        0
    );

    // A forged or altered address does nothing.
    let forged = path.replace("notifications", "digest");
    assert_eq!(
        app.client
            .post(app.url(&forged))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(app.get("/unsubscribe/garbage").await.status(), 404);
}

#[tokio::test]
async fn channels_and_thread_levels_decide_who_hears() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cyd = app.member("cyd").await;
    let article = publish(&app, &ada, "Levels", &[]).await;
    const LEVEL: &str = "mutation($a: ID!, $l: ThreadSubscriptionLevel!) { setThreadSubscription(input: { articleId: $a, level: $l }) { userErrors { field message code } article { viewerSubscription } } }";
    const MINE: &str = "query($a: ID!) { node(id: $a) { ... on Article { viewerSubscription } } }";
    let level = |token: &str| {
        let (app, token, article) = (&app, token.to_owned(), article.clone());
        async move {
            app.ok(Some(&token), MINE, json!({ "a": article })).await["node"]["viewerSubscription"]
                .clone()
        }
    };
    assert_eq!(level(&ada).await, "ALL", "authors start with every comment");
    assert_eq!(level(&bob).await, "REPLIES_AND_MENTIONS");
    let unread = |token: &str| {
        let (app, token) = (&app, token.to_owned());
        async move {
            app.ok(
                Some(&token),
                "{ viewer { unreadNotificationsCount } }",
                json!({}),
            )
            .await["viewer"]["unreadNotificationsCount"]
                .as_i64()
                .unwrap()
        }
    };

    // Cyd asks for every comment; Ada mutes her own thread.
    comment(&app, &cyd, &article, "Hello", None).await;
    app.drain_jobs().await;
    assert_eq!(unread(&ada).await, 1);
    let data = app
        .ok(Some(&cyd), LEVEL, json!({ "a": article, "l": "ALL" }))
        .await;
    assert_eq!(
        data["setThreadSubscription"]["article"]["viewerSubscription"],
        "ALL"
    );
    app.ok(Some(&ada), LEVEL, json!({ "a": article, "l": "MUTED" }))
        .await;
    comment(&app, &bob, &article, "Hi all, @ada", None).await;
    app.drain_jobs().await;
    assert_eq!(unread(&ada).await, 1, "muted: not even a mention");
    assert_eq!(unread(&cyd).await, 1, "every comment");
    assert_eq!(unread(&bob).await, 0);

    // Channels: email only where it is offered; OFF is muting.
    const CHANNEL: &str = "mutation($k: NotificationKind!, $c: NotificationChannel!) { updateNotificationChannel(input: { kind: $k, channel: $c }) { userErrors { field message code } viewer { mutedNotifications notificationChannels { kind channel } } } }";
    let (_, body) = app
        .graphql_as(
            Some(&bob),
            CHANNEL,
            json!({ "k": "REACTION", "c": "IN_APP_AND_EMAIL" }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "channel"),
        "{body}"
    );
    let data = app
        .ok(Some(&bob), CHANNEL, json!({ "k": "REPLY", "c": "OFF" }))
        .await;
    assert_eq!(
        data["updateNotificationChannel"]["viewer"]["mutedNotifications"],
        json!(["REPLY"])
    );
    let data = app
        .ok(Some(&bob), CHANNEL, json!({ "k": "REPLY", "c": "IN_APP" }))
        .await;
    let viewer = &data["updateNotificationChannel"]["viewer"];
    assert_eq!(viewer["mutedNotifications"], json!([]));
    assert!(
        viewer["notificationChannels"]
            .as_array()
            .unwrap()
            .contains(&json!({ "kind": "REPLY", "channel": "IN_APP" }))
    );
    // A thread one cannot see cannot be subscribed to.
    let draft = app
        .ok(
            Some(&ada),
            PUBLISH,
            json!({ "i": { "title": "Draft", "bodyMarkdown": "x" } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.fails(
        Some(&bob),
        LEVEL,
        json!({ "a": draft, "l": "ALL" }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn the_weekly_digest_is_opt_in_and_sent_on_monday_morning_locally() {
    let app = spawn_app_with(Default::default(), |s| {
        s.mail.settings_url = Some("https://app.example/settings/notifications".to_owned());
    })
    .await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    publish(&app, &bob, "Rust This Week", &["rust"]).await;
    publish(&app, &bob, "Unrelated", &["cooking"]).await;
    let tag = app
        .ok(None, "{ tag(name: \"rust\") { id } }", json!({}))
        .await["tag"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } } }",
        json!({ "id": tag }),
    )
    .await;
    const DIGEST: &str = "mutation($w: Boolean!, $z: String) { updateEmailDigest(input: { weekly: $w, timeZone: $z }) { userErrors { field message code } viewer { weeklyDigest timeZone } } }";
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            DIGEST,
            json!({ "w": true, "z": "Mars/Olympus" }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "timeZone"),
        "{body}"
    );
    let data = app
        .ok(Some(&ada), DIGEST, json!({ "w": true, "z": "Asia/Tokyo" }))
        .await;
    assert_eq!(
        data["updateEmailDigest"]["viewer"],
        json!({ "weeklyDigest": true, "timeZone": "Asia/Tokyo" })
    );
    app.drain_jobs().await;

    let ctx = app.state.job_context();
    let run = |at: chrono::DateTime<chrono::Utc>| {
        let ctx = ctx.clone();
        async move {
            vibecoding::domain::notification_mail::queue_digests_at(&ctx, at)
                .await
                .unwrap();
        }
    };
    // Sunday 22:00 UTC is Monday 07:00 in Tokyo: not yet.
    let tokyo_monday_7 = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 22, 0, 0).unwrap();
    run(tokyo_monday_7).await;
    app.drain_jobs().await;
    assert!(notices(&app, "ada@example.com").is_empty());
    // Monday 08:05 in Tokyo; then again, and at 17:00 there (08:00 UTC): once.
    let tokyo_monday_8 = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 23, 5, 0).unwrap();
    run(tokyo_monday_8).await;
    run(tokyo_monday_8).await;
    run(chrono::Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap()).await;
    app.drain_jobs().await;
    let mails = notices(&app, "ada@example.com");
    assert_eq!(mails.len(), 1, "once: {mails:?}");
    assert_eq!(mails[0].subject, "Your week on the Vibecoding Community");
    assert!(mails[0].text.contains("Rust This Week"));
    assert!(!mails[0].text.contains("Unrelated"));
    assert!(unsubscribe_url(&mails[0]).contains(".digest."));
    assert!(
        mails[0]
            .text
            .contains("https://app.example/settings/notifications"),
        "a link to the settings"
    );
    // Bob never asked for one.
    assert!(notices(&app, "bob@example.com").is_empty());

    // Unsubscribed with one POST, the next Monday sends nothing.
    let path = unsubscribe_url(&mails[0]).replace("http://localhost:3000", "");
    let response = app
        .client
        .post(app.url(&path))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let data = app
        .ok(Some(&ada), "{ viewer { weeklyDigest } }", json!({}))
        .await;
    assert_eq!(data["viewer"]["weeklyDigest"], false);
    run(tokyo_monday_8 + chrono::Duration::days(7)).await;
    app.drain_jobs().await;
    assert_eq!(notices(&app, "ada@example.com").len(), 1);
}

#[tokio::test]
async fn the_settings_fields_read_the_settings_once() {
    let app = crate::helpers::spawn_counting_app().await;
    let ada = app.member("ada").await;
    let cost = |query: &'static str| {
        let (app, ada) = (&app, ada.clone());
        async move {
            let before = app.statements();
            app.ok(Some(&ada), query, json!({})).await;
            app.statements() - before
        }
    };
    // The first request of a session also refreshes when it was last seen.
    cost("{ viewer { unreadNotificationsCount } }").await;
    let one = cost("{ viewer { mutedNotifications } }").await;
    let all = cost(
        "{ viewer { mutedNotifications notificationChannels { kind channel } weeklyDigest timeZone } }",
    )
    .await;
    assert_eq!(all, one, "four fields, one read of the settings");
}
