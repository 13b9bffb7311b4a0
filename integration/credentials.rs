//! Credentials hold only while they are valid: open WebSockets close when theirs is revoked
//! or their member's standing changes (on any node), a reset or an email change takes the
//! account back from whoever else held it, and the paths that run the password hash are
//! rate limited.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{
    Options, TestApp, WsClient, code, spawn_app, spawn_app_with, spawn_counting_app, ws_handshake,
};

const VIEWER: &str = "{ viewer { user { username } } }";

async fn login(app: &TestApp, login: &str) -> String {
    app.ok(
        None,
        "mutation($i: LoginInput!) { login(input: $i) { userErrors { field message code } token } }",
        json!({ "i": { "login": login, "password": "correct horse battery" } }),
    )
    .await["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A socket signed in with `token`.
async fn socket(app: &TestApp, token: &str) -> WsClient {
    let (stream, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut client = WsClient {
        socket: stream,
        protocol: "graphql-transport-ws".to_owned(),
    };
    client
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(client.next_json().await["type"], "connection_ack");
    client
}

/// The close frame the server ends the socket with, within `within`.
async fn closed_with(client: &mut WsClient, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, client.socket.next())
            .await
            .expect("the socket was not closed in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error before a close frame: {e}"),
        }
    }
}

#[tokio::test]
async fn sockets_close_when_their_credential_goes_on_any_node() {
    let app = spawn_app().await;
    let other = app.second_node(Options::default()).await;
    app.member("keeper").await;
    let phone = login(&app, "keeper").await;
    let laptop = login(&app, "keeper").await;
    let mut on_phone = socket(&app, &phone).await;
    let mut on_laptop = socket(&app, &laptop).await;
    on_laptop
        .subscribe("1", "subscription { serverTime(intervalMs: 200) }")
        .await;
    // Signing out of the phone's session on the other node closes the phone's socket here.
    let (status, body) = other
        .graphql_as(
            Some(&phone),
            "mutation { logout { endedSessionId } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (close, reason) = closed_with(&mut on_phone, Duration::from_secs(5)).await;
    assert_eq!(close, 4401, "{reason}");
    // The laptop's socket, on its own session, carries on.
    assert_eq!(on_laptop.next_json().await["type"], "next");

    // A moderator suspends the member: the socket closes so the client reconnects as what
    // the member now is.
    let moderator = app.member("warden").await;
    app.set_role("warden", "moderator").await;
    let keeper_id = app
        .ok(None, "{ user(username: \"keeper\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    other
        .ok(
            Some(&moderator),
            "mutation($id: ID!) { suspendMember(input: { id: $id, reason: \"spam\" }) { userErrors { field message code } clientMutationId } }",
            json!({ "id": keeper_id }),
        )
        .await;
    let (close, _) = closed_with(&mut on_laptop, Duration::from_secs(5)).await;
    assert_eq!(close, 4000);
    let mut again = socket(&app, &laptop).await;
    again
        .subscribe("2", "subscription { serverTime(intervalMs: 200) }")
        .await;
    assert_eq!(again.next_json().await["type"], "next");

    // A key revoked straight in the database (an operator's hand) ends its sockets too.
    sqlx::query(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'keeper')",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        closed_with(&mut again, Duration::from_secs(5)).await.0,
        4401
    );
}

/// A socket signed in with a personal API key.
async fn key_socket(app: &TestApp, key: &str) -> WsClient {
    let (stream, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut client = WsClient {
        socket: stream,
        protocol: "graphql-transport-ws".to_owned(),
    };
    client
        .send(json!({ "type": "connection_init", "payload": { "apiKey": key } }))
        .await;
    assert_eq!(client.next_json().await["type"], "connection_ack");
    client
}

/// Every way a credential goes, done on one node, ends the sockets it opened on the other:
/// revoking the session or the key, a password reset, a role change and deleting the
/// account.
#[tokio::test]
async fn every_way_a_credential_goes_ends_its_sockets_on_the_other_node() {
    let app = spawn_app().await;
    let other = app.second_node(Options::default()).await;
    let owner = app.member("holder").await;
    let within = Duration::from_secs(5);

    // revokeSession, for a session other than the caller's.
    let spare = login(&app, "holder").await;
    let mut ws = socket(&app, &spare).await;
    let sessions = other
        .ok(
            Some(&owner),
            "{ viewer { sessions { id current } } }",
            json!({}),
        )
        .await;
    let spare_id = sessions["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].clone())
        .unwrap();
    other
        .ok(
            Some(&owner),
            "mutation($id: ID!) { revokeSession(input: { id: $id }) { userErrors { field message code } revokedSessionId } }",
            json!({ "id": spare_id }),
        )
        .await;
    assert_eq!(closed_with(&mut ws, within).await.0, 4401, "revokeSession");

    // revokeApiKey.
    let created = app
        .ok(
            Some(&owner),
            "mutation { createApiKey(input: { description: \"ci\" }) { userErrors { field message code } key apiKey { id } } }",
            json!({}),
        )
        .await;
    let key = created["createApiKey"]["key"].as_str().unwrap().to_owned();
    let mut ws = key_socket(&app, &key).await;
    other
        .ok(
            Some(&owner),
            "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { userErrors { field message code } revokedApiKeyId } }",
            json!({ "id": created["createApiKey"]["apiKey"]["id"] }),
        )
        .await;
    assert_eq!(closed_with(&mut ws, within).await.0, 4401, "revokeApiKey");

    // A role change: the socket closes so the client reconnects as what the member now is.
    let mut ws = socket(&app, &owner).await;
    app.set_role("holder", "trusted").await;
    assert_eq!(closed_with(&mut ws, within).await.0, 4000, "role change");

    // A password reset, asked and used on the other node.
    let mut ws = socket(&app, &owner).await;
    let key = api_key(&app, &owner).await;
    let mut by_key = key_socket(&app, &key).await;
    other
        .ok(
            None,
            "mutation { requestPasswordReset(input: { email: \"holder@example.com\" }) { userErrors { field message code } clientMutationId } }",
            json!({}),
        )
        .await;
    other.drain_jobs().await;
    let reset = mail(&other, "holder@example.com", "Reset").token("reset-password");
    other
        .ok(
            None,
            "mutation($t: String!) { resetPassword(input: { token: $t, password: \"another good secret\" }) { userErrors { field message code } clientMutationId } }",
            json!({ "t": reset }),
        )
        .await;
    assert_eq!(closed_with(&mut ws, within).await.0, 4401, "reset: session");
    assert_eq!(closed_with(&mut by_key, within).await.0, 4401, "reset: key");

    // Deleting the account.
    let token = app
        .ok(None, "mutation { login(input: { login: \"holder\", password: \"another good secret\" }) { userErrors { field message code } token } }", json!({}))
        .await["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = socket(&app, &token).await;
    let phone = app
        .ok(None, "mutation { login(input: { login: \"holder\", password: \"another good secret\" }) { userErrors { field message code } token } }", json!({}))
        .await["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    other
        .ok(
            Some(&phone),
            "mutation { deleteAccount(input: { password: \"another good secret\" }) { userErrors { field message code } deletedUserId } }",
            json!({}),
        )
        .await;
    assert_eq!(closed_with(&mut ws, within).await.0, 4401, "deleteAccount");
}

#[tokio::test]
async fn each_operation_on_a_socket_is_authorised_as_things_are_now() {
    let app = spawn_app().await;
    let token = app.member("expiring").await;
    let mut ws = socket(&app, &token).await;
    ws.subscribe("1", "subscription { serverTime(intervalMs: 500) }")
        .await;
    assert_eq!(ws.next_json().await["type"], "next");
    // The session expires (no notification: an expiry is not a change anyone makes).
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.state.db)
        .await
        .unwrap();
    // The next operation finds it expired, and the socket closes.
    ws.subscribe("2", "subscription { serverTime(intervalMs: 500) }")
        .await;
    assert_eq!(closed_with(&mut ws, Duration::from_secs(5)).await.0, 4401);
}

#[tokio::test]
async fn sockets_must_introduce_themselves_speak_briefly_and_answer_pings() {
    let app = spawn_app_with(Options::default(), |s| {
        s.http.ws_init_timeout_secs = 1;
        s.http.ws_max_message_bytes = 4 * 1024;
        s.http.ws_ping_interval_secs = 1;
    })
    .await;
    // No connection_init: closed after the timeout.
    let (stream, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut silent = WsClient {
        socket: stream,
        protocol: "graphql-transport-ws".to_owned(),
    };
    let (close, reason) = closed_with(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(
        (close, reason.as_str()),
        (4408, "Connection initialisation timeout")
    );

    // A message over the limit: closed with 1009.
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    let big = format!(
        "subscription {{ serverTime(intervalMs: 500) }} # {}",
        "x".repeat(8 * 1024)
    );
    ws.subscribe("1", &big).await;
    assert_eq!(
        closed_with(&mut ws, Duration::from_secs(5)).await.0,
        u16::from(CloseCode::Size)
    );

    // An idle socket is pinged (the client library answers with pongs and stays open).
    let mut idle = app.ws_connect("graphql-transport-ws", None).await;
    let ping = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.socket.next().await {
                Some(Ok(Message::Ping(_))) => break,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "no ping within 5 s");
}

/// The newest mail to `to` with `subject` in it.
fn mail(app: &TestApp, to: &str, subject: &str) -> crate::helpers::Mail {
    app.emails()
        .into_iter()
        .rev()
        .find(|m| m.to == to && m.subject.contains(subject))
        .expect("the mail")
}

async fn api_key(app: &TestApp, token: &str) -> String {
    app.ok(
        Some(token),
        "mutation { createApiKey(input: { description: \"ci\" }) { userErrors { field message code } key } }",
        json!({}),
    )
    .await["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn with_key(app: &TestApp, key: &str) -> u16 {
    app.client
        .post(app.url("/graphql"))
        .header("api-key", key)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_reset_or_an_email_change_takes_the_account_back() {
    let app = spawn_app().await;
    let owner = app.member("victim").await;
    // Whoever else got in holds a session and made a key.
    let intruder = login(&app, "victim").await;
    let key = api_key(&app, &intruder).await;
    assert_eq!(with_key(&app, &key).await, 200);
    // An email change started by the intruder, towards their own address.
    app.ok(
        Some(&intruder),
        "mutation { changeEmail(input: { password: \"correct horse battery\", newEmail: \"intruder@example.com\" }) { userErrors { field message code } clientMutationId } }",
        json!({}),
    )
    .await;
    app.drain_jobs().await;
    let hijack = mail(&app, "intruder@example.com", "Confirm").token("confirm-email");
    // The owner resets the password from their mailbox.
    app.ok(
        None,
        "mutation { requestPasswordReset(input: { email: \"victim@example.com\" }) { userErrors { field message code } clientMutationId } }",
        json!({}),
    )
    .await;
    app.drain_jobs().await;
    let reset = mail(&app, "victim@example.com", "Reset").token("reset-password");
    app.ok(
        None,
        "mutation($t: String!) { resetPassword(input: { token: $t, password: \"a brand new secret\" }) { userErrors { field message code } clientMutationId } }",
        json!({ "t": reset }),
    )
    .await;
    // Every session and key is gone, and the pending email with its link.
    assert_eq!(with_key(&app, &key).await, 401);
    for token in [&owner, &intruder] {
        assert_eq!(app.graphql_as(Some(token), VIEWER, json!({})).await.0, 401);
    }
    let (_, body) = app
        .graphql(
            "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { email } } }",
            json!({ "t": hijack }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let pending: Option<String> =
        sqlx::query_scalar("SELECT pending_email::text FROM users WHERE username = 'victim'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(pending, None);

    // An email change likewise ends the other sessions and every key, and voids earlier
    // links: a confirmation for an address given up confirms nothing.
    let owner = app
        .ok(
            None,
            "mutation { login(input: { login: \"victim\", password: \"a brand new secret\" }) { userErrors { field message code } token } }",
            json!({}),
        )
        .await["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app
        .ok(
            None,
            "mutation { login(input: { login: \"victim\", password: \"a brand new secret\" }) { userErrors { field message code } token } }",
            json!({}),
        )
        .await["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = api_key(&app, &owner).await;
    let change = |to: &str| {
        format!(
            "mutation {{ changeEmail(input: {{ password: \"a brand new secret\", newEmail: \"{to}\" }}) {{ userErrors {{ field message code }} clientMutationId }} }}"
        )
    };
    app.ok(Some(&owner), &change("first.choice@example.com"), json!({}))
        .await;
    app.drain_jobs().await;
    let first = mail(&app, "first.choice@example.com", "Confirm").token("confirm-email");
    assert_eq!(
        app.graphql_as(Some(&second), VIEWER, json!({})).await.0,
        401
    );
    assert_eq!(with_key(&app, &key).await, 401);
    assert_eq!(app.graphql_as(Some(&owner), VIEWER, json!({})).await.0, 200);
    app.ok(
        Some(&owner),
        &change("second.choice@example.com"),
        json!({}),
    )
    .await;
    app.drain_jobs().await;
    let (_, body) = app
        .graphql(
            "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { email } } }",
            json!({ "t": first }),
        )
        .await;
    assert_eq!(
        code(&body),
        "BAD_USER_INPUT",
        "the first address was given up: {body}"
    );
    let second_link = mail(&app, "second.choice@example.com", "Confirm").token("confirm-email");
    let confirmed = app
        .ok(
            None,
            "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { username } } }",
            json!({ "t": second_link }),
        )
        .await;
    assert_eq!(confirmed["confirmEmail"]["user"]["username"], "victim");
    let email: String =
        sqlx::query_scalar("SELECT email::text FROM users WHERE username = 'victim'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(email, "second.choice@example.com");
}

#[tokio::test]
async fn password_work_is_rate_limited_per_member_address_and_target() {
    let app = spawn_app_with(Options::default(), |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.password_change = vibecoding::config::Rule::new(2, 3_600);
        s.rate_limits.password_reset_per_email = vibecoding::config::Rule::new(1, 3_600);
        s.rate_limits.password_reset_per_ip = vibecoding::config::Rule::new(3, 3_600);
    })
    .await;
    let token = app.member("hasher").await;
    let wrong = "mutation { changePassword(input: { currentPassword: \"nope\", newPassword: \"another long one\" }) { userErrors { field message code } clientMutationId } }";
    for _ in 0..2 {
        assert_eq!(
            code(&app.graphql_as(Some(&token), wrong, json!({})).await.1),
            "BAD_USER_INPUT"
        );
    }
    let (status, body) = app.graphql_as(Some(&token), wrong, json!({})).await;
    assert_eq!((status, code(&body)), (200, "RATE_LIMITED"), "{body}");
    let mails_before = app.emails().len();
    let reset = |email: &str| {
        format!(
            "mutation {{ requestPasswordReset(input: {{ email: \"{email}\" }}) {{ userErrors {{ field message code }} clientMutationId }} }}"
        )
    };
    // One reset mail per target address; the answer stays the same.
    for _ in 0..2 {
        let data = app.ok(None, &reset("hasher@example.com"), json!({})).await;
        assert_eq!(data["requestPasswordReset"]["userErrors"], json!([]));
    }
    app.drain_jobs().await;
    let resets: Vec<Value> = app
        .emails()
        .iter()
        .skip(mails_before)
        .map(|m| json!(m.subject))
        .collect();
    assert_eq!(resets.len(), 1, "{resets:?}");
    // Per address: the fourth request of the hour is refused outright.
    app.ok(None, &reset("someone@example.com"), json!({})).await;
    let (_, body) = app.graphql(&reset("else@example.com"), json!({})).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
}

#[tokio::test]
async fn email_changes_deletions_and_the_address_are_rate_limited_too() {
    let app = spawn_app_with(Options::default(), |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.email_change = vibecoding::config::Rule::new(1, 3_600);
        s.rate_limits.account_deletion = vibecoding::config::Rule::new(1, 3_600);
        s.rate_limits.account_change_per_ip = vibecoding::config::Rule::new(2, 3_600);
    })
    .await;
    let first = app.member("first").await;
    let change = "mutation { changeEmail(input: { password: \"nope\", newEmail: \"new.first@example.com\" }) { userErrors { field message code } clientMutationId } }";
    let delete = "mutation { deleteAccount(input: { password: \"nope\" }) { userErrors { field message code } deletedUserId } }";
    for (operation, what) in [(change, "changeEmail"), (delete, "deleteAccount")] {
        let (_, body) = app.graphql_as(Some(&first), operation, json!({})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{what}: {body}");
        let (_, body) = app.graphql_as(Some(&first), operation, json!({})).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{what}, per member: {body}");
    }
    // Two attempts from this address reached the hash (the refused ones are not counted
    // against it): another member at the same address is refused before the hash runs.
    let second = app.member("second").await;
    let (_, body) = app.graphql_as(Some(&second), delete, json!({})).await;
    assert_eq!(code(&body), "RATE_LIMITED", "per address: {body}");
}

/// Credentials checked lately are answered without a statement, but never past a change:
/// on the node that made it at once, on another node as soon as Postgres' notification
/// arrives; an expiry brought forward counts as a change too.
#[tokio::test]
async fn credentials_checked_lately_never_outlive_a_change() {
    let app = spawn_counting_app().await;
    let other = app.second_node(Options::default()).await;
    app.member("keeper").await;
    let token = login(&app, "keeper").await;
    // Checked once, then answered from memory: no statement for the credential.
    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 200);
    let before = app.statements();
    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 200);
    assert_eq!(
        app.statements() - before,
        1,
        "the viewer's row, not the session"
    );

    // Signed out on this node: the very next request is refused.
    let (status, _) = app
        .graphql_as(
            Some(&token),
            "mutation { logout { endedSessionId } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 401);

    // Signed out on the other node: refused here once the notification arrives.
    let token = login(&app, "keeper").await;
    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 200);
    other
        .graphql_as(
            Some(&token),
            "mutation { logout { endedSessionId } }",
            json!({}),
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while app.graphql_as(Some(&token), VIEWER, json!({})).await.0 != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 2 s after a logout elsewhere"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An expiry brought forward by hand.
    let token = login(&app, "keeper").await;
    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 200);
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while app.graphql_as(Some(&token), VIEWER, json!({})).await.0 != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 2 s after expiring"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
