//! Accounts through GraphQL over HTTP and WebSocket: registration, confirmation, sessions,
//! API keys, password reset, profiles, deletion and roles.

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, code, field, message, spawn_app, spawn_app_with};

const VIEWER: &str = "{ viewer { email emailConfirmed role user { id username name } } }";
const PASSWORD: &str = "correct horse battery";

async fn login(app: &TestApp, login: &str, password: &str) -> (u16, Value) {
    app.graphql(
        "mutation($input: LoginInput!) { login(input: $input) { userErrors { field message code } token user { username } } }",
        json!({ "input": { "login": login, "password": password } }),
    )
    .await
}

async fn register_raw(app: &TestApp, input: Value) -> Value {
    app.graphql(
        "mutation($input: RegisterInput!) { register(input: $input) { userErrors { field message code } token user { username role } } }",
        json!({ "input": input }),
    )
    .await
    .1
}

#[tokio::test]
async fn register_confirm_sign_in_by_cookie_and_bearer_then_sign_out() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($input: RegisterInput!) { register(input: $input) { userErrors { field message code } token user { username } } }",
            "variables": { "input": { "username": "Ada_L", "email": " Ada@Example.com ", "password": PASSWORD, "name": "Ada" } }
        }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["register"]["user"]["username"], "ada_l");
    let token = body["data"]["register"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The database keeps only a hash of it.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE token_hash = sha256('{token}'::bytea)"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE encode(token_hash, 'escape') LIKE '%{token}%'"
        ))
        .await,
        0
    );

    let (_, me) = app.graphql_as(Some(&token), VIEWER, json!({})).await;
    assert_eq!(me["data"]["viewer"]["email"], "ada@example.com");
    assert_eq!(me["data"]["viewer"]["emailConfirmed"], false);
    assert_eq!(me["data"]["viewer"]["role"], "MEMBER");

    // No email is sent inside the request; the worker sends both.
    assert!(app.emails().is_empty());
    let outcomes = app.drain_jobs().await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let emails = app.emails();
    assert!(
        emails.iter().all(|m| m.to == "ada@example.com"),
        "{emails:?}"
    );
    let welcome = emails
        .iter()
        .find(|m| m.subject.contains("Welcome"))
        .expect("a welcome email");
    assert!(
        welcome.text.contains("http://localhost:3000/ada_l"),
        "{}",
        welcome.text
    );
    assert!(welcome.text.contains("text/html") && welcome.text.contains("text/plain"));
    let confirmation = emails
        .iter()
        .find(|m| m.subject.contains("Confirm"))
        .expect("a confirmation email");
    let confirm_token = confirmation.token("confirm-email");

    let confirm = "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { username } } }";
    let (_, body) = app.graphql(confirm, json!({ "t": confirm_token })).await;
    assert_eq!(
        body["data"]["confirmEmail"]["user"]["username"], "ada_l",
        "{body}"
    );
    let (_, body) = app.graphql(confirm, json!({ "t": confirm_token })).await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "token"),
        "single use"
    );
    let (_, me) = app.graphql_as(Some(&token), VIEWER, json!({})).await;
    assert_eq!(me["data"]["viewer"]["emailConfirmed"], true);

    // Sign in by username or email, in any case; the cookie alone authenticates too.
    for login_name in ["ADA_L", "ada@EXAMPLE.com"] {
        let (status, body) = login(&app, login_name, PASSWORD).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["login"]["user"]["username"], "ada_l", "{body}");
    }
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();
    let by_cookie: Value = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", &cookie_pair)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_cookie["data"]["viewer"]["user"]["username"], "ada_l");

    let logout = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { logout { endedSessionId } }" }))
        .send()
        .await
        .unwrap();
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let body: Value = logout.json().await.unwrap();
    assert!(
        body["data"]["logout"]["endedSessionId"].is_string(),
        "{body}"
    );
    // The ended session's token is refused, not silently anonymous.
    let (status, body) = app.graphql_as(Some(&token), VIEWER, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn every_registration_rule_is_checked_and_nothing_is_half_written() {
    let app = spawn_app().await;
    app.register("taken_name").await;
    let users = app.count("SELECT count(*) FROM users").await;
    let jobs = app.count("SELECT count(*) FROM jobs").await;
    let good = json!({ "username": "newbie", "email": "newbie@example.com", "password": PASSWORD, "name": "New" });
    let with = |key: &str, value: Value| {
        let mut input = good.clone();
        input[key] = value;
        input
    };
    let cases = [
        (with("username", json!("ab")), "username"),
        (with("username", json!("a".repeat(31))), "username"),
        (with("username", json!("has space")), "username"),
        (with("username", json!("dash-ed")), "username"),
        (with("username", json!("admin")), "username"),
        (with("username", json!("GraphiQL")), "username"),
        (with("username", json!("TAKEN_NAME")), "username"),
        (with("email", json!("not-an-email")), "email"),
        (with("email", json!("TAKEN_NAME@example.com")), "email"),
        (with("password", json!("short")), "password"),
        (with("password", json!("x".repeat(129))), "password"),
        (with("password", json!("newbie")), "password"),
        (with("password", json!("NEWBIE@example.com")), "password"),
        (with("name", json!("n".repeat(101))), "name"),
        (with("ownerSecret", json!("guess")), "ownerSecret"),
    ];
    for (input, expected) in cases {
        let body = register_raw(&app, input.clone()).await;
        assert_eq!(
            (code(&body), field(&body)),
            ("BAD_USER_INPUT", expected),
            "{input}: {body}"
        );
    }
    let body = register_raw(&app, with("email", json!("taken_name@example.com"))).await;
    assert!(message(&body).contains("already registered"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM users").await, users);
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        jobs,
        "a refused registration enqueues nothing"
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn failed_sign_ins_look_alike_and_ten_in_a_row_lock_the_account() {
    let app = spawn_app().await;
    app.register("grace").await;
    // A login that names nobody locks after ten failures just the same, so the lock
    // tells an anonymous caller nothing about who has an account.
    for _ in 0..10 {
        let (_, body) = login(&app, "nobody_at_all", "wrong password").await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    let (_, nobody_locked) = login(&app, "nobody_at_all", "wrong password").await;
    let (status, unknown) = login(&app, "nobody", PASSWORD).await;
    assert_eq!(status, 200);
    let (_, wrong) = login(&app, "grace", "wrong password").await;
    assert_eq!(code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    for _ in 0..9 {
        let (_, body) = login(&app, "grace", "wrong password").await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    // The tenth failure locked it: even the right password is refused for now, in the
    // very words an unknown login gets.
    let (_, body) = login(&app, "grace", PASSWORD).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    assert_eq!(code(&nobody_locked), "RATE_LIMITED", "{nobody_locked}");
    let message = |b: &serde_json::Value| b["errors"][0]["message"].as_str().unwrap().to_owned();
    assert_eq!(message(&body), message(&nobody_locked));
    let retry_after = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((500..=600).contains(&retry_after), "{retry_after}");
    // The window ends (its counter expires): the right password works again.
    let key = format!(
        "{}login_failures:{}",
        app.redis_prefix,
        hex::encode(vibecoding::domain::accounts::tokens::hash("grace"))
    );
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, body) = login(&app, "grace", PASSWORD).await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
}

#[tokio::test]
async fn invalid_or_revoked_credentials_are_refused_everywhere() {
    let app = spawn_app().await;
    let (status, body) = app
        .graphql_as(Some("not-a-real-token"), "{ health { app } }", json!({}))
        .await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    let malformed = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Basic abc")
        .json(&json!({ "query": "{ health { app } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 401);
    let bad_cookie = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", "vibecoding_session=forged")
        .json(&json!({ "query": "{ health { app } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_cookie.status(), 401);
    assert!(
        bad_cookie.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "a stale cookie is cleared"
    );
    let bad_key = app
        .client
        .post(app.url("/graphql"))
        .header("api-key", "vck_forged")
        .json(&json!({ "query": "{ health { app } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
    // Anonymous is fine, and mutations that need a member say so.
    let (status, body) = app
        .graphql("mutation { logout { endedSessionId } }", json!({}))
        .await;
    assert_eq!((status, code(&body)), (200, "UNAUTHENTICATED"));
    let (_, body) = app.graphql(VIEWER, json!({})).await;
    assert!(body["data"]["viewer"].is_null());
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_by_one_or_all_at_once() {
    let app = spawn_app().await;
    let first = app.register("hopper").await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("user-agent", "SecondDevice/1.0")
        .json(&json!({
            "query": "mutation($input: LoginInput!) { login(input: $input) { userErrors { field message code } token } }",
            "variables": { "input": { "login": "hopper", "password": PASSWORD } }
        }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let second = body["data"]["login"]["token"].as_str().unwrap().to_owned();

    let list = "{ viewer { sessions { id current userAgent ip createdAt lastSeenAt } } }";
    let (_, body) = app.graphql_as(Some(&first), list, json!({})).await;
    let sessions = body["data"]["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["userAgent"], "SecondDevice/1.0");
    assert_eq!(other["ip"], "127.0.0.1");

    let (_, body) = app
        .graphql_as(
            Some(&first),
            "mutation($id: ID!) { revokeSession(input: { id: $id }) { userErrors { field message code } revokedSessionId } }",
            json!({ "id": other["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["revokeSession"]["revokedSessionId"],
        other["id"]
    );
    assert_eq!(
        app.graphql_as(Some(&second), VIEWER, json!({})).await.0,
        401
    );
    app.fails(
        Some(&first),
        "mutation($id: ID!) { revokeSession(input: { id: $id }) { userErrors { field message code } revokedSessionId } }",
        json!({ "id": other["id"] }),
        "NOT_FOUND",
    )
    .await;
    app.fails(
        Some(&first),
        "mutation($id: ID!) { revokeSession(input: { id: $id }) { userErrors { field message code } revokedSessionId } }",
        json!({ "id": "garbage" }),
        "BAD_USER_INPUT",
    )
    .await;

    let (_, third) = login(&app, "hopper", PASSWORD).await;
    let third = third["data"]["login"]["token"].as_str().unwrap().to_owned();
    let (_, body) = app
        .graphql_as(
            Some(&first),
            "mutation { logoutEverywhere { endedSessionsCount } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["logoutEverywhere"]["endedSessionsCount"], 2);
    assert_eq!(app.graphql_as(Some(&first), VIEWER, json!({})).await.0, 401);
    assert_eq!(app.graphql_as(Some(&third), VIEWER, json!({})).await.0, 401);
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    // An unconfirmed account cannot make keys: a key outlives the session that made it.
    let unconfirmed = app.register("babbage").await;
    app.fails(
        Some(&unconfirmed),
        "mutation { createApiKey(input: { description: \"x\" }) { userErrors { field message code } key } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    let token = app.member("lovelace").await;
    let (_, body) = app
        .graphql_as(Some(&token), "mutation { createApiKey(input: { description: \"CI publishing\" }) { userErrors { field message code } key apiKey { id description } } }", json!({}))
        .await;
    let key = body["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = body["data"]["createApiKey"]["apiKey"]["id"].clone();
    assert!(key.starts_with("vck_"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM api_keys WHERE key_hash = sha256('{key}'::bytea)"
        ))
        .await,
        1
    );

    let with_key = |key: String| {
        app.client
            .post(app.url("/graphql"))
            .header("api-key", key)
            .json(&json!({ "query": "{ viewer { user { username } apiKeys { description lastUsedAt } } }" }))
            .send()
    };
    let body: Value = with_key(key.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["user"]["username"], "lovelace");
    assert_eq!(
        body["data"]["viewer"]["apiKeys"][0]["description"],
        "CI publishing"
    );
    assert!(
        body.to_string().find(&key).is_none(),
        "the key is never shown again"
    );

    app.fails(
        Some(&token),
        "mutation { createApiKey(input: { description: \"\" }) { userErrors { field message code } key } }",
        json!({}),
        "BAD_USER_INPUT",
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { userErrors { field message code } revokedApiKeyId } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        body["data"]["revokeApiKey"]["revokedApiKeyId"].is_string(),
        "{body}"
    );
    assert_eq!(with_key(key).await.unwrap().status(), 401);
}

#[tokio::test]
async fn password_reset_by_email_ends_every_session() {
    let app = spawn_app().await;
    let token = app.register("turing").await;
    app.drain_jobs().await;
    let mails_before = app.emails().len();
    let request = "mutation($e: String!) { requestPasswordReset(input: { email: $e }) { userErrors { field message code } clientMutationId } }";
    for email in ["nobody@example.com", "not an email", "TURING@example.com"] {
        let (_, body) = app.graphql(request, json!({ "e": email })).await;
        assert_eq!(
            body["data"]["requestPasswordReset"],
            json!({ "userErrors": [], "clientMutationId": null }),
            "always the same answer"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE kind = 'send_password_reset'")
            .await,
        1
    );
    app.drain_jobs().await;
    let emails = app.emails();
    assert_eq!(emails.len(), mails_before + 1);
    let reset = emails.iter().find(|m| m.subject.contains("Reset")).unwrap();
    assert_eq!(reset.to, "turing@example.com");
    let reset_token = reset.token("reset-password");

    let reset_query = "mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, password: $p }) { userErrors { field message code } clientMutationId } }";
    let (_, body) = app
        .graphql(reset_query, json!({ "t": reset_token, "p": "short" }))
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "password"));
    // A refused reset does not use the token up.
    let (_, body) = app
        .graphql(
            reset_query,
            json!({ "t": reset_token, "p": "a brand new secret" }),
        )
        .await;
    assert_eq!(
        body["data"]["resetPassword"]["userErrors"],
        json!([]),
        "{body}"
    );
    let (_, body) = app
        .graphql(
            reset_query,
            json!({ "t": reset_token, "p": "another new secret" }),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "token"));
    let (_, body) = app
        .graphql(
            reset_query,
            json!({ "t": "forged", "p": "another new secret" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");

    assert_eq!(
        app.graphql_as(Some(&token), VIEWER, json!({})).await.0,
        401,
        "old sessions end"
    );
    assert_eq!(
        code(&login(&app, "turing", PASSWORD).await.1),
        "UNAUTHENTICATED"
    );
    assert!(
        login(&app, "turing", "a brand new secret").await.1["data"]["login"]["token"].is_string()
    );

    // An expired token is refused.
    sqlx::query("UPDATE email_tokens SET used_at = NULL, expires_at = now() - interval '1 minute'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let (_, body) = app
        .graphql(
            reset_query,
            json!({ "t": reset_token, "p": "yet another secret" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn changing_password_and_email() {
    let app = spawn_app().await;
    let token = app.register("knuth").await;
    let (_, other) = login(&app, "knuth", PASSWORD).await;
    let other = other["data"]["login"]["token"].as_str().unwrap().to_owned();
    let change = "mutation($c: String!, $n: String!) { changePassword(input: { currentPassword: $c, newPassword: $n }) { userErrors { field message code } clientMutationId } }";
    app.fails_on(
        Some(&token),
        change,
        json!({ "c": "wrong", "n": "a fine new secret" }),
        ("BAD_USER_INPUT", "currentPassword"),
    )
    .await;
    app.fails_on(
        Some(&token),
        change,
        json!({ "c": PASSWORD, "n": "knuth" }),
        ("BAD_USER_INPUT", "newPassword"),
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&token),
            change,
            json!({ "c": PASSWORD, "n": "a fine new secret" }),
        )
        .await;
    assert_eq!(
        body["data"]["changePassword"]["userErrors"],
        json!([]),
        "{body}"
    );
    assert_eq!(
        app.graphql_as(Some(&token), VIEWER, json!({})).await.0,
        200,
        "this session stays"
    );
    assert_eq!(
        app.graphql_as(Some(&other), VIEWER, json!({})).await.0,
        401,
        "others end"
    );

    app.register("taken").await;
    app.drain_jobs().await;
    let before = app.emails().len();
    let change_email = "mutation($p: String!, $e: String!) { changeEmail(input: { password: $p, newEmail: $e }) { userErrors { field message code } clientMutationId } }";
    app.fails_on(
        Some(&token),
        change_email,
        json!({ "p": "a fine new secret", "e": "taken@example.com" }),
        ("BAD_USER_INPUT", "newEmail"),
    )
    .await;
    app.fails_on(
        Some(&token),
        change_email,
        json!({ "p": "wrong", "e": "don@example.org" }),
        ("BAD_USER_INPUT", "password"),
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&token),
            change_email,
            json!({ "p": "a fine new secret", "e": "Don@Example.org" }),
        )
        .await;
    assert_eq!(
        body["data"]["changeEmail"]["userErrors"],
        json!([]),
        "{body}"
    );
    let (_, me) = app
        .graphql_as(Some(&token), "{ viewer { email pendingEmail } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["viewer"],
        json!({ "email": "knuth@example.com", "pendingEmail": "don@example.org" })
    );
    app.drain_jobs().await;
    let emails = app.emails();
    assert_eq!(emails.len(), before + 1);
    let mail = emails.iter().find(|m| m.to == "don@example.org").unwrap();
    let (_, body) = app
        .graphql(
            "mutation($t: String!) { confirmEmail(input: { token: $t }) { userErrors { field message code } user { username } } }",
            json!({ "t": mail.token("confirm-email") }),
        )
        .await;
    assert_eq!(body["data"]["confirmEmail"]["user"]["username"], "knuth");
    let (_, me) = app
        .graphql_as(
            Some(&token),
            "{ viewer { email pendingEmail emailConfirmed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["viewer"],
        json!({ "email": "don@example.org", "pendingEmail": null, "emailConfirmed": true })
    );
    assert!(
        login(&app, "don@example.org", "a fine new secret").await.1["data"]["login"]["token"]
            .is_string()
    );
}

#[tokio::test]
async fn profiles_are_public_bounded_and_http_only() {
    let app = spawn_app().await;
    let token = app.register("hamilton").await;
    let update = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { userErrors { field message code } user { name bio location websiteUrl githubUsername twitterUsername } } }";
    let (_, body) = app
        .graphql_as(
            Some(&token),
            update,
            json!({ "i": { "name": "Margaret Hamilton", "bio": "Apollo software", "location": "Boston", "websiteUrl": "https://example.org/mh", "githubUsername": "@mhamilton", "twitterUsername": "mh_apollo" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateProfile"]["user"],
        json!({ "name": "Margaret Hamilton", "bio": "Apollo software", "location": "Boston", "websiteUrl": "https://example.org/mh", "githubUsername": "mhamilton", "twitterUsername": "mh_apollo" })
    );
    for (input, expected) in [
        (json!({ "websiteUrl": "javascript:alert(1)" }), "websiteUrl"),
        (json!({ "websiteUrl": "ftp://example.org" }), "websiteUrl"),
        (json!({ "bio": "b".repeat(201) }), "bio"),
        (json!({ "location": "l".repeat(101) }), "location"),
        (json!({ "name": "n".repeat(101) }), "name"),
        (
            json!({ "githubUsername": "no spaces allowed" }),
            "githubUsername",
        ),
        (
            json!({ "twitterUsername": "far_too_long_for_twitter" }),
            "twitterUsername",
        ),
    ] {
        let (_, body) = app
            .graphql_as(Some(&token), update, json!({ "i": input }))
            .await;
        assert_eq!(
            (code(&body), field(&body)),
            ("BAD_USER_INPUT", expected),
            "{input}"
        );
    }
    // Clearing a field, leaving the others.
    let (_, body) = app
        .graphql_as(Some(&token), update, json!({ "i": { "websiteUrl": "" } }))
        .await;
    assert_eq!(
        body["data"]["updateProfile"]["user"]["websiteUrl"],
        Value::Null
    );
    assert_eq!(
        body["data"]["updateProfile"]["user"]["bio"],
        "Apollo software"
    );

    let (_, anonymous) = app
        .graphql(
            "{ user(username: \"HAMILTON\") { username name bio role path } }",
            json!({}),
        )
        .await;
    assert_eq!(anonymous["data"]["user"]["name"], "Margaret Hamilton");
    assert_eq!(anonymous["data"]["user"]["path"], "/hamilton");
    let (_, body) = app
        .graphql("{ user(username: \"nobody\") { username } }", json!({}))
        .await;
    assert!(body["data"]["user"].is_null());
    let (_, body) = app.graphql(update, json!({ "i": { "bio": "x" } })).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn users_are_nodes_fetched_in_one_batch() {
    let app = spawn_app().await;
    let token = app.register("noether").await;
    app.register("germain").await;
    let (_, me) = app.graphql_as(Some(&token), VIEWER, json!({})).await;
    let id = me["data"]["viewer"]["user"]["id"].clone();
    let (_, other) = app
        .graphql("{ user(username: \"germain\") { id } }", json!({}))
        .await;
    let other_id = other["data"]["user"]["id"].clone();

    let (_, body) = app
        .graphql(
            "query($id: ID!) { node(id: $id) { id ... on User { username } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["node"]["username"], "noether");
    let (_, body) = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on User { username } } }",
            json!({ "ids": [id, other_id, "VXNlcjowMTkzZjAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA"] }),
        )
        .await;
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "username": "noether" }, { "username": "germain" }, null]),
        "{body}"
    );
    let (_, body) = app
        .graphql("{ node(id: \"garbage\") { id } }", json!({}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn deleting_an_account_removes_personal_data_and_credentials() {
    let app = spawn_app_with(Default::default(), |s| {
        s.outbound.allow_http = true;
        s.outbound.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let token = app.member("lamarr").await;
    app.ok(
        Some(&token),
        "mutation { createWebhook(input: { url: \"http://127.0.0.1:9/hook\", events: [COMMENT_CREATED] }) { userErrors { field message code } webhook { id } } }",
        json!({}),
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "mutation { createApiKey(input: { description: \"k\" }) { userErrors { field message code } key } }",
            json!({}),
        )
        .await;
    let key = body["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let delete = "mutation($p: String!) { deleteAccount(input: { password: $p }) { userErrors { field message code } deletedUserId } }";
    app.fails_on(
        Some(&token),
        delete,
        json!({ "p": "wrong" }),
        ("BAD_USER_INPUT", "password"),
    )
    .await;
    let (_, body) = app
        .graphql_as(Some(&token), delete, json!({ "p": PASSWORD }))
        .await;
    assert!(
        body["data"]["deleteAccount"]["deletedUserId"].is_string(),
        "{body}"
    );

    assert_eq!(app.graphql_as(Some(&token), VIEWER, json!({})).await.0, 401);
    let by_key = app
        .client
        .post(app.url("/graphql"))
        .header("api-key", key)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), 401);
    let (_, body) = app
        .graphql("{ user(username: \"lamarr\") { username } }", json!({}))
        .await;
    assert!(body["data"]["user"].is_null());
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email IS NOT NULL OR name <> '' OR password_hash IS NOT NULL").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions").await
            + app.count("SELECT count(*) FROM api_keys").await
            + app.count("SELECT count(*) FROM webhooks").await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        0,
        "queued mail to them is dropped"
    );
    // The username and email are free again.
    app.register("lamarr").await;
}

#[tokio::test]
async fn the_owner_secret_makes_the_first_admin_once() {
    let app = spawn_app_with(Options::default(), |s| {
        s.forem_owner_secret = Some("the-owner-secret".into())
    })
    .await;
    let input = |name: &str, secret: &str| json!({ "username": name, "email": format!("{name}@example.com"), "password": PASSWORD, "ownerSecret": secret });
    let body = register_raw(&app, input("founder", "wrong")).await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "ownerSecret")
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
    let body = register_raw(&app, input("founder", "the-owner-secret")).await;
    assert_eq!(body["data"]["register"]["user"]["role"], "ADMIN", "{body}");
    let body = register_raw(&app, input("second", "the-owner-secret")).await;
    assert_eq!(code(&body), "FORBIDDEN");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);

    // Without a configured secret, none is accepted.
    let plain = spawn_app().await;
    let body = register_raw(&plain, input("founder", "")).await;
    assert_eq!(field(&body), "ownerSecret");
}

#[tokio::test]
async fn job_stats_are_for_admins_only() {
    let app = spawn_app_with(Options::default(), |s| {
        s.forem_owner_secret = Some("s".into())
    })
    .await;
    let member = app.register("member1").await;
    let body = register_raw(&app, json!({ "username": "boss", "email": "boss@example.com", "password": PASSWORD, "ownerSecret": "s" })).await;
    let admin = body["data"]["register"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = "{ jobStats { kind queued running scheduled failed dead } }";
    assert_eq!(
        code(&app.graphql(query, json!({})).await.1),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.graphql_as(Some(&member), query, json!({})).await.1),
        "FORBIDDEN"
    );
    let (_, body) = app.graphql_as(Some(&admin), query, json!({})).await;
    let welcome = body["data"]["jobStats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "send_welcome")
        .unwrap()
        .clone();
    assert_eq!(welcome["queued"], 2, "{body}");
}

#[tokio::test]
async fn resending_the_confirmation_is_limited() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits.enabled = true).await;
    let token = app.register("curie").await;
    let resend = "mutation { resendConfirmation { clientMutationId } }";
    for _ in 0..2 {
        assert_eq!(
            app.graphql_as(Some(&token), resend, json!({})).await.1["data"]["resendConfirmation"],
            json!({ "clientMutationId": null })
        );
    }
    let body = app
        .fails(Some(&token), resend, json!({}), "RATE_LIMITED")
        .await;
    let retry_after = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=120).contains(&retry_after));
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE kind = 'send_confirmation'")
            .await,
        3
    );
}

#[tokio::test]
async fn websocket_connections_authenticate_from_connection_init_or_cookie() {
    use crate::helpers::ws_handshake;
    let app = spawn_app().await;
    let token = app.register("shannon").await;
    let viewer_query = "{ viewer { user { username } } }";

    for payload in [
        json!({ "authorization": format!("Bearer {token}") }),
        json!({ "token": token }),
    ] {
        let (socket, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
            .await
            .unwrap();
        let mut ws = crate::helpers::WsClient {
            socket,
            protocol: "graphql-transport-ws".into(),
        };
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.next_json().await["type"], "connection_ack");
        ws.subscribe("1", viewer_query).await;
        let message = ws.next_json().await;
        assert_eq!(
            message["payload"]["data"]["viewer"]["user"]["username"], "shannon",
            "{message}"
        );
    }

    // The session cookie on the upgrade request.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            app.ws_url(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    request.headers_mut().insert(
        "cookie",
        format!("vibecoding_session={token}").parse().unwrap(),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut ws = crate::helpers::WsClient {
        socket,
        protocol: "graphql-ws".into(),
    };
    ws.send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe("1", viewer_query).await;
    assert_eq!(
        ws.next_json().await["payload"]["data"]["viewer"]["user"]["username"],
        "shannon"
    );

    // A bad token refuses the connection instead of making it anonymous.
    let (socket, _) = ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut ws = crate::helpers::WsClient {
        socket,
        protocol: "graphql-transport-ws".into(),
    };
    ws.send(json!({ "type": "connection_init", "payload": { "token": "forged" } }))
        .await;
    match ws.next_message().await {
        tokio_tungstenite::tungstenite::Message::Close(Some(frame)) => {
            assert!(
                frame.reason.contains("invalid") || frame.reason.contains("revoked"),
                "{frame:?}"
            );
        }
        other => panic!("expected the connection to close, got {other:?}"),
    }
    let _ = ws.socket.close(None).await;
}

#[tokio::test]
async fn operators_grant_roles_and_suspended_members_read_but_cannot_write() {
    let app = spawn_app().await;
    let token = app.register("mallory").await;
    let cli = |args: &[&str]| {
        crate::process::vibecoding()
            .args(args)
            .env("APP_ENV", "test")
            .env("DATABASE_URL", crate::helpers::pg_url(&app.db_name))
            .output()
            .unwrap()
    };
    let output = cli(&[
        "admin",
        "grant",
        "MALLORY",
        "suspended",
        "--reason",
        "spam links",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("mallory is now suspended"));

    // Signing in and reading still work.
    assert!(login(&app, "mallory", PASSWORD).await.1["data"]["login"]["token"].is_string());
    let (_, me) = app
        .graphql_as(
            Some(&token),
            "{ viewer { role suspendedReason } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["viewer"],
        json!({ "role": "SUSPENDED", "suspendedReason": "spam links" })
    );
    // Writing does not, and says why.
    let body = app
        .fails(
            Some(&token),
            "mutation { updateProfile(input: { bio: \"hi\" }) { userErrors { field message code } user { bio } } }",
            json!({}),
            "FORBIDDEN",
        )
        .await;
    assert!(message(&body).contains("spam links"), "{body}");
    app.fails(
        Some(&token),
        "mutation { createApiKey(input: { description: \"x\" }) { userErrors { field message code } key } }",
        json!({}),
        "FORBIDDEN",
    )
    .await;

    let output = cli(&["admin", "revoke", "mallory", "suspended"]);
    assert!(output.status.success());
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "mutation { updateProfile(input: { bio: \"hi\" }) { userErrors { field message code } user { bio } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["updateProfile"]["user"]["bio"], "hi");

    let output = cli(&["admin", "grant", "mallory", "moderator"]);
    assert!(output.status.success());
    let (_, me) = app
        .graphql_as(Some(&token), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(me["data"]["viewer"]["role"], "MODERATOR");
    // Each change of role is in the audit log, made from the command line.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'member.role' AND actor_id IS NULL"
        )
        .await,
        3
    );

    for bad in [
        &["admin", "grant", "nobody", "admin"][..],
        &["admin", "grant", "mallory", "emperor"],
        &["admin", "revoke", "mallory", "admin"],
    ] {
        let output = cli(bad);
        assert!(!output.status.success(), "{bad:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1
        );
    }
}
