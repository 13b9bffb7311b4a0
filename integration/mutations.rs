//! Every mutation in its one shape: `input` in, a payload out that carries the changed
//! nodes' new state, `clientMutationId` passed through, and `userErrors` listing every
//! invalid field of a request at once, with nothing written.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Runs `mutation` as `token` and returns its payload, which must have no user errors.
async fn payload(app: &TestApp, token: Option<&str>, mutation: &str, variables: Value) -> Value {
    let data = app.ok(token, mutation, variables).await;
    let (_, payload) = data
        .as_object()
        .and_then(|d| d.iter().next())
        .expect("one mutation");
    payload.clone()
}

/// Runs `mutation` as `token` and returns its `userErrors` as `(field, code)` pairs, with
/// the payload's other fields, which must all be null.
async fn refused(
    app: &TestApp,
    token: Option<&str>,
    mutation: &str,
    variables: Value,
) -> Vec<(String, String)> {
    let (status, body) = app.graphql_as(token, mutation, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("errors").is_none(),
        "not a top-level error: {body}"
    );
    let (_, payload) = body["data"]
        .as_object()
        .and_then(|d| d.iter().next())
        .expect("one mutation");
    for (name, value) in payload.as_object().unwrap() {
        if name != "userErrors" && name != "clientMutationId" {
            assert!(value.is_null(), "{name} is null when refused: {body}");
        }
    }
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            let path: Vec<&str> = e["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            (path.join("."), e["code"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test]
async fn every_invalid_field_of_a_request_is_reported_together_and_nothing_is_written() {
    let app = spawn_app().await;
    let users = app.count("SELECT count(*) FROM users").await;
    let register = "mutation($i: RegisterInput!) { register(input: $i) { clientMutationId token expiresAt user { id } userErrors { field message code } } }";
    let (_, body) = app
        .graphql(
            register,
            json!({ "i": {
                "username": "ab",
                "email": "not an email",
                "password": "short",
                "clientMutationId": "r1",
            } }),
        )
        .await;
    assert_eq!(body["data"]["register"]["clientMutationId"], "r1", "{body}");
    assert_eq!(
        refused(
            &app,
            None,
            register,
            json!({ "i": { "username": "ab", "email": "not an email", "password": "short" } }),
        )
        .await,
        pairs(&[
            ("input.username", "TOO_SHORT"),
            ("input.email", "INVALID"),
            ("input.password", "TOO_SHORT"),
        ])
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, users);

    let ada = app.member("ada").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { article { id } author { id } clientMutationId userErrors { field message code } } }";
    assert_eq!(
        refused(
            &app,
            Some(&ada),
            create,
            json!({ "i": {
                "title": "  ",
                "tags": ["a", "b", "c", "d", "e"],
                "canonicalUrl": "http://127.0.0.1/x",
                "bodyMarkdown": "Fine.",
            } }),
        )
        .await,
        pairs(&[
            ("input.title", "BLANK"),
            ("input.tags", "TOO_LONG"),
            ("input.canonicalUrl", "INVALID"),
        ])
    );
    assert_eq!(app.count("SELECT count(*) FROM articles").await, 0);

    let profile = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { user { bio } userErrors { field message code } } }";
    assert_eq!(
        refused(
            &app,
            Some(&ada),
            profile,
            json!({ "i": { "bio": "b".repeat(201), "websiteUrl": "javascript:alert(1)", "name": "Kept out" } }),
        )
        .await,
        pairs(&[("input.bio", "TOO_LONG"), ("input.websiteUrl", "INVALID")])
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE name = 'Kept out'")
            .await,
        0
    );

    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { viewer { email } userErrors { field message code } } }";
    assert_eq!(
        refused(
            &app,
            Some(&ada),
            change,
            json!({ "i": { "currentPassword": "wrong guess", "newPassword": "short" } }),
        )
        .await,
        pairs(&[
            ("input.currentPassword", "INVALID"),
            ("input.newPassword", "TOO_SHORT"),
        ])
    );

    let email = "mutation($i: ChangeEmailInput!) { changeEmail(input: $i) { viewer { email } userErrors { field message code } } }";
    assert_eq!(
        refused(
            &app,
            Some(&ada),
            email,
            json!({ "i": { "password": "wrong guess", "newEmail": "not an address" } }),
        )
        .await,
        pairs(&[("input.password", "INVALID"), ("input.newEmail", "INVALID")])
    );
    // A refused profile stores no picture.
    let (status, body) = app
        .upload(
            Some(&ada),
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { user { avatarUrl } userErrors { field code } } }",
            json!({ "i": { "avatar": null, "bio": "b".repeat(201) } }),
            "i.avatar",
            "me.png",
            crate::uploads::png(64, 64),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["updateProfile"]["userErrors"],
        json!([{ "field": ["input", "bio"], "code": "TOO_LONG" }])
    );
    assert_eq!(app.count("SELECT count(*) FROM images").await, 0);

    // What is not about the input stays a top-level error with its code.
    // and comes first: who asks is checked before what they sent.
    let (_, body) = app
        .graphql(
            "mutation { createComment(input: { articleId: \"nonsense\", bodyMarkdown: \"\" }) { comment { id } userErrors { field } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            "mutation { suspendMember(input: { id: \"nonsense\", reason: \"\" }) { user { id } userErrors { field } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = app
        .graphql(create, json!({ "i": { "title": "Signed out" } }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let bob = app.member("bob").await;
    let id = payload(
        &app,
        Some(&ada),
        create,
        json!({ "i": { "title": "Ada's", "clientMutationId": "c1" } }),
    )
    .await["article"]["id"]
        .clone();
    let (_, body) = app
        .graphql_as(
            Some(&bob),
            "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { article { id } userErrors { field } } }",
            json!({ "i": { "id": id, "title": "Bob's now" } }),
        )
        .await;
    // Another member's draft is not found, as if it did not exist.
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
}

#[tokio::test]
async fn account_mutations_answer_with_the_account_as_it_now_is() {
    let app = spawn_app().await;
    let token = payload(
        &app,
        None,
        "mutation { register(input: { username: \"grace\", email: \"grace@example.com\", password: \"correct horse battery\", clientMutationId: \"one\" }) { clientMutationId token expiresAt user { username } userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(token["clientMutationId"], "one");
    assert_eq!(token["user"]["username"], "grace");
    assert!(token["expiresAt"].is_string());
    let grace = token["token"].as_str().unwrap().to_owned();
    app.drain_jobs().await;
    let mail = app
        .emails()
        .into_iter()
        .find(|m| m.subject.contains("Confirm"))
        .unwrap();
    let confirmed = payload(
        &app,
        Some(&grace),
        "mutation($t: String!) { confirmEmail(input: { token: $t }) { user { username } viewer { emailConfirmed } userErrors { field } } }",
        json!({ "t": mail.token("confirm-email") }),
    )
    .await;
    assert_eq!(
        confirmed,
        json!({ "user": { "username": "grace" }, "viewer": { "emailConfirmed": true }, "userErrors": [] })
    );

    let login = "mutation { login(input: { login: \"grace\", password: \"correct horse battery\" }) { token user { username } userErrors { field } } }";
    let second = payload(&app, None, login, json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = app
        .ok(
            Some(&grace),
            "{ viewer { sessions { id current } } }",
            json!({}),
        )
        .await;
    let other = sessions["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .clone();
    let revoked = payload(
        &app,
        Some(&grace),
        "mutation($id: ID!) { revokeSession(input: { id: $id }) { revokedSessionId userErrors { field } } }",
        json!({ "id": other }),
    )
    .await;
    assert_eq!(revoked["revokedSessionId"], other);
    assert_eq!(
        app.graphql_as(Some(&second), "{ viewer { email } }", json!({}))
            .await
            .0,
        401
    );

    let key = payload(
        &app,
        Some(&grace),
        "mutation { createApiKey(input: { description: \"CI\" }) { key apiKey { id description } userErrors { field } } }",
        json!({}),
    )
    .await;
    assert!(key["key"].as_str().unwrap().starts_with("vck_"));
    assert_eq!(key["apiKey"]["description"], "CI");
    let revoked = payload(
        &app,
        Some(&grace),
        "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { revokedApiKeyId userErrors { field } } }",
        json!({ "id": key["apiKey"]["id"] }),
    )
    .await;
    assert_eq!(revoked["revokedApiKeyId"], key["apiKey"]["id"]);

    let profile = payload(
        &app,
        Some(&grace),
        "mutation { updateProfile(input: { bio: \"Compilers.\", location: \"Arlington\" }) { user { bio location } userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        profile["user"],
        json!({ "bio": "Compilers.", "location": "Arlington" })
    );
    let email = payload(
        &app,
        Some(&grace),
        "mutation { changeEmail(input: { password: \"correct horse battery\", newEmail: \"hopper@example.com\" }) { viewer { email pendingEmail } userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        email["viewer"],
        json!({ "email": "grace@example.com", "pendingEmail": "hopper@example.com" })
    );
    let changed = payload(
        &app,
        Some(&grace),
        "mutation { changePassword(input: { currentPassword: \"correct horse battery\", newPassword: \"a longer secret\" }) { viewer { email } userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(changed["viewer"]["email"], "grace@example.com");
    let resent = payload(
        &app,
        Some(&grace),
        "mutation { resendConfirmation { viewer { pendingEmail } clientMutationId } }",
        json!({}),
    )
    .await;
    assert_eq!(resent["viewer"]["pendingEmail"], "hopper@example.com");
    let reset = payload(
        &app,
        None,
        "mutation { requestPasswordReset(input: { email: \"grace@example.com\", clientMutationId: \"rq\" }) { clientMutationId userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(reset["clientMutationId"], "rq");
    app.drain_jobs().await;
    let mail = app
        .emails()
        .into_iter()
        .rev()
        .find(|m| m.subject.contains("eset"))
        .expect("a reset mail");
    payload(
        &app,
        None,
        "mutation($t: String!) { resetPassword(input: { token: $t, password: \"the third secret\" }) { clientMutationId userErrors { field } } }",
        json!({ "t": mail.token("reset-password") }),
    )
    .await;

    let login = "mutation { login(input: { login: \"grace\", password: \"the third secret\" }) { token userErrors { field } } }";
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(
            payload(&app, None, login, json!({})).await["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let ended = payload(
        &app,
        Some(&tokens[0]),
        "mutation { logout { endedSessionId } }",
        json!({}),
    )
    .await;
    assert!(ended["endedSessionId"].is_string(), "{ended}");
    let third = payload(&app, None, login, json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let everywhere = payload(
        &app,
        Some(&third),
        "mutation { logoutEverywhere(input: { clientMutationId: \"all\" }) { endedSessionsCount clientMutationId } }",
        json!({}),
    )
    .await;
    assert_eq!(
        everywhere,
        json!({ "endedSessionsCount": 2, "clientMutationId": "all" })
    );
    let last = payload(&app, None, login, json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = app
        .ok(Some(&last), "{ viewer { user { id } } }", json!({}))
        .await["viewer"]["user"]["id"]
        .clone();
    let deleted = payload(
        &app,
        Some(&last),
        "mutation { deleteAccount(input: { password: \"the third secret\" }) { deletedUserId userErrors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(deleted["deletedUserId"], id);
}

const ARTICLE: &str =
    "article { id title status commentsCount editedAt viewerCanUpdate } author { articlesCount }";

#[tokio::test]
async fn content_mutations_answer_with_every_node_they_changed() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;

    let created = payload(
        &app,
        Some(&ada),
        &format!("mutation {{ createArticle(input: {{ title: \"First\", bodyMarkdown: \"Text.\", tags: [\"rust\"], series: \"Notes\", published: true, clientMutationId: \"a1\" }}) {{ {ARTICLE} clientMutationId }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(created["clientMutationId"], "a1");
    assert_eq!(created["article"]["status"], "PUBLISHED");
    assert_eq!(created["article"]["viewerCanUpdate"], true);
    assert_eq!(created["author"]["articlesCount"], 1);
    let article = created["article"]["id"].clone();

    let updated = payload(
        &app,
        Some(&ada),
        &format!("mutation($id: ID!) {{ updateArticle(input: {{ id: $id, title: \"First, edited\" }}) {{ {ARTICLE} }} }}"),
        json!({ "id": article }),
    )
    .await;
    assert_eq!(updated["article"]["title"], "First, edited");
    assert!(updated["article"]["editedAt"].is_string());
    let draft = payload(
        &app,
        Some(&ada),
        &format!("mutation($id: ID!) {{ unpublishArticle(input: {{ id: $id }}) {{ {ARTICLE} }} }}"),
        json!({ "id": article }),
    )
    .await;
    assert_eq!(
        (
            &draft["article"]["status"],
            &draft["author"]["articlesCount"]
        ),
        (&json!("DRAFT"), &json!(0))
    );
    let live = payload(
        &app,
        Some(&ada),
        &format!("mutation($id: ID!) {{ publishArticle(input: {{ id: $id }}) {{ {ARTICLE} }} }}"),
        json!({ "id": article }),
    )
    .await;
    assert_eq!(
        (&live["article"]["status"], &live["author"]["articlesCount"]),
        (&json!("PUBLISHED"), &json!(1))
    );

    let comment = "mutation($a: ID!, $p: ID, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { comment { id depth } article { commentsCount } parent { repliesCount } userErrors { field } } }";
    let root = payload(
        &app,
        Some(&bob),
        comment,
        json!({ "a": article, "b": "A root." }),
    )
    .await;
    assert_eq!(root["article"]["commentsCount"], 1);
    assert!(root["parent"].is_null());
    let root_id = root["comment"]["id"].clone();
    let reply = payload(
        &app,
        Some(&ada),
        comment,
        json!({ "a": article, "p": root_id, "b": "A reply." }),
    )
    .await;
    assert_eq!(
        (
            &reply["comment"]["depth"],
            &reply["article"]["commentsCount"],
            &reply["parent"]["repliesCount"]
        ),
        (&json!(1), &json!(2), &json!(1))
    );
    let reply_id = reply["comment"]["id"].clone();
    let edited = payload(
        &app,
        Some(&ada),
        "mutation($id: ID!) { updateComment(input: { id: $id, bodyMarkdown: \"A reply, edited.\" }) { comment { bodyMarkdown editedAt } } }",
        json!({ "id": reply_id }),
    )
    .await;
    assert_eq!(edited["comment"]["bodyMarkdown"], "A reply, edited.");
    assert!(edited["comment"]["editedAt"].is_string());
    let hidden = payload(
        &app,
        Some(&ada),
        "mutation($id: ID!) { hideComment(input: { id: $id }) { comment { isHidden } } }",
        json!({ "id": root_id }),
    )
    .await;
    assert_eq!(hidden["comment"]["isHidden"], true);
    let deleted = payload(
        &app,
        Some(&ada),
        "mutation($id: ID!) { deleteComment(input: { id: $id }) { comment { isDeleted } article { commentsCount } parent { repliesCount } } }",
        json!({ "id": reply_id }),
    )
    .await;
    assert_eq!(
        deleted,
        json!({ "comment": { "isDeleted": true }, "article": { "commentsCount": 1 }, "parent": { "repliesCount": 0 } })
    );

    let react = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { reacted category article { reactionsCount viewerReactions viewerHasBookmarked } comment { reactionsCount viewerReactions } } }";
    let liked = payload(
        &app,
        Some(&bob),
        react,
        json!({ "id": article, "c": "like" }),
    )
    .await;
    assert_eq!(
        liked,
        json!({ "reacted": true, "category": "like", "comment": null, "article": { "reactionsCount": 1, "viewerReactions": ["like"], "viewerHasBookmarked": false } })
    );
    let saved = payload(
        &app,
        Some(&bob),
        react,
        json!({ "id": article, "c": "readinglist" }),
    )
    .await;
    assert_eq!(saved["article"]["viewerHasBookmarked"], true);
    let on_comment = payload(
        &app,
        Some(&ada),
        react,
        json!({ "id": root_id, "c": "like" }),
    )
    .await;
    assert_eq!(
        on_comment["comment"],
        json!({ "reactionsCount": 1, "viewerReactions": ["like"] })
    );

    let ids = app
        .ok(
            None,
            "{ user(username: \"ada\") { id } tag(name: \"rust\") { id } }",
            json!({}),
        )
        .await;
    // Two mutations in one document: each payload shows the state its own mutation left.
    let both = app
        .ok(
            Some(&bob),
            "mutation($u: ID!, $t: ID!) {
                on: follow(input: { id: $u }) { user { viewerIsFollowing followersCount } tag { id } viewer { user { followingCount } } }
                tag: follow(input: { id: $t }) { tag { viewerIsFollowing followersCount } }
                off: unfollow(input: { id: $u }) { user { viewerIsFollowing followersCount } viewer { user { followingCount } } }
            }",
            json!({ "u": ids["user"]["id"], "t": ids["tag"]["id"] }),
        )
        .await;
    assert_eq!(
        both,
        json!({
            "on": { "user": { "viewerIsFollowing": true, "followersCount": 1 }, "tag": null, "viewer": { "user": { "followingCount": 1 } } },
            "tag": { "tag": { "viewerIsFollowing": true, "followersCount": 1 } },
            "off": { "user": { "viewerIsFollowing": false, "followersCount": 0 }, "viewer": { "user": { "followingCount": 0 } } },
        })
    );
    let block =
        "mutation($id: ID!) { blockUser(input: { id: $id }) { user { viewerHasBlocked } } }";
    let unblock =
        "mutation($id: ID!) { unblockUser(input: { id: $id }) { user { viewerHasBlocked } } }";
    let id = json!({ "id": ids["user"]["id"] });
    assert_eq!(
        payload(&app, Some(&bob), block, id.clone()).await["user"]["viewerHasBlocked"],
        true
    );
    assert_eq!(
        payload(&app, Some(&bob), unblock, id).await["user"]["viewerHasBlocked"],
        false
    );

    let series = app
        .ok(
            Some(&ada),
            "{ user(username: \"ada\") { series { nodes { id } } } }",
            json!({}),
        )
        .await["user"]["series"]["nodes"][0]["id"]
        .clone();
    let renamed = payload(
        &app,
        Some(&ada),
        "mutation($id: ID!) { updateSeries(input: { id: $id, title: \"Field notes\", description: \"Short ones.\" }) { series { title description } } }",
        json!({ "id": series }),
    )
    .await;
    assert_eq!(
        renamed["series"],
        json!({ "title": "Field notes", "description": "Short ones." })
    );
    app.set_role("ada", "moderator").await;
    let tag = payload(
        &app,
        Some(&ada),
        "mutation { updateTag(input: { name: \"rust\", color: \"#DEA584\" }) { tag { name color } } }",
        json!({}),
    )
    .await;
    assert_eq!(tag["tag"], json!({ "name": "rust", "color": "#dea584" }));

    let gone = payload(
        &app,
        Some(&ada),
        "mutation($id: ID!) { deleteArticle(input: { id: $id }) { deletedArticleId author { articlesCount } } }",
        json!({ "id": article }),
    )
    .await;
    assert_eq!(
        gone,
        json!({ "deletedArticleId": article, "author": { "articlesCount": 0 } })
    );
}

#[tokio::test]
async fn moderation_and_media_mutations_answer_with_their_subjects() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let mo = app.member("moira").await;
    app.set_role("moira", "moderator").await;
    let article = payload(
        &app,
        Some(&ada),
        "mutation { createArticle(input: { title: \"Spam?\", bodyMarkdown: \"x\", tags: [\"misc\"], published: true }) { article { id } } }",
        json!({}),
    )
    .await["article"]["id"]
        .clone();
    let comment = payload(
        &app,
        Some(&ada),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Buy now\" }) { comment { id } } }",
        json!({ "a": article }),
    )
    .await["comment"]["id"]
        .clone();

    let report = payload(
        &app,
        Some(&bob),
        "mutation($id: ID!) { report(input: { subjectId: $id, category: SPAM, message: \"ads\" }) { report { id status category } } }",
        json!({ "id": comment }),
    )
    .await["report"]
        .clone();
    assert_eq!(report["status"], "OPEN");
    let resolved = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { resolveReport(input: { id: $id, action: HIDE_COMMENT, note: \"ads\" }) { report { status action subject { ... on Comment { isHidden } } } } }",
        json!({ "id": report["id"] }),
    )
    .await;
    assert_eq!(
        resolved["report"],
        json!({ "status": "RESOLVED", "action": "HIDE_COMMENT", "subject": { "isHidden": true } })
    );
    let shown = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { moderateComment(input: { id: $id, action: UNHIDE, reason: \"fine after all\" }) { comment { isHidden } } }",
        json!({ "id": comment }),
    )
    .await;
    assert_eq!(shown["comment"]["isHidden"], false);
    assert_eq!(
        refused(
            &app,
            Some(&mo),
            "mutation($id: ID!) { moderateArticleTags(input: { id: $id, tags: [\"a\", \"b\", \"c\", \"d\", \"e\"], reason: \" \" }) { article { id } userErrors { field message code } } }",
            json!({ "id": article }),
        )
        .await,
        pairs(&[("input.reason", "BLANK"), ("input.tags", "TOO_LONG")])
    );
    let retagged = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { moderateArticleTags(input: { id: $id, tags: [\"ads\"], reason: \"topic\" }) { article { tagList } } }",
        json!({ "id": article }),
    )
    .await;
    assert_eq!(retagged["article"]["tagList"], json!(["ads"]));
    let removed = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { moderateArticle(input: { id: $id, reason: \"spam\" }) { article { status } } }",
        json!({ "id": article }),
    )
    .await;
    assert_eq!(removed["article"]["status"], "REMOVED");
    let restored = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { moderateArticle(input: { id: $id, reason: \"appeal\", action: RESTORE }) { article { status } } }",
        json!({ "id": article }),
    )
    .await;
    assert_eq!(restored["article"]["status"], "DRAFT");

    let ada_id = app
        .ok(None, "{ user(username: \"ada\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    let suspended = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { suspendMember(input: { id: $id, reason: \"spam\" }) { user { role } } }",
        json!({ "id": ada_id }),
    )
    .await;
    assert_eq!(suspended["user"]["role"], "SUSPENDED");
    let lifted = payload(
        &app,
        Some(&mo),
        "mutation($id: ID!) { unsuspendMember(input: { id: $id, reason: \"appeal\" }) { user { role } } }",
        json!({ "id": ada_id }),
    )
    .await;
    assert_eq!(lifted["user"]["role"], "MEMBER");

    let (status, body) = app
        .upload(
            Some(&bob),
            "mutation($file: Upload!) { uploadImage(input: { file: $file, purpose: COVER, clientMutationId: \"u1\" }) { image { id purpose } clientMutationId userErrors { field } } }",
            json!({ "file": null }),
            "file",
            "cover.png",
            crate::uploads::png(1200, 600),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let uploaded = &body["data"]["uploadImage"];
    assert_eq!(uploaded["image"]["purpose"], "COVER", "{body}");
    assert_eq!(uploaded["clientMutationId"], "u1");
    let deleted = payload(
        &app,
        Some(&bob),
        "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }",
        json!({ "id": uploaded["image"]["id"] }),
    )
    .await;
    assert_eq!(deleted["deletedImageId"], uploaded["image"]["id"]);
}

#[tokio::test]
async fn a_document_of_several_mutations_sees_each_write_and_stops_being_signed_in_when_it_signs_out()
 {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let article = payload(
        &app,
        Some(&ada),
        "mutation { createArticle(input: { title: \"Talk\", bodyMarkdown: \"x\", published: true }) { article { id } } }",
        json!({}),
    )
    .await["article"]["id"]
        .clone();
    let both = app
        .ok(
            Some(&ada),
            "mutation($a: ID!) {
                one: createComment(input: { articleId: $a, bodyMarkdown: \"One\" }) { comment { article { commentsCount } } }
                two: createComment(input: { articleId: $a, bodyMarkdown: \"Two\" }) { article { commentsCount } }
            }",
            json!({ "a": article }),
        )
        .await;
    assert_eq!(both["one"]["comment"]["article"]["commentsCount"], 1);
    assert_eq!(both["two"]["article"]["commentsCount"], 2, "{both}");

    // Nothing is written in the name of an account deleted earlier in the document.
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            "mutation {
                deleteAccount(input: { password: \"correct horse battery\" }) { deletedUserId }
                createArticle(input: { title: \"After\", published: true }) { article { id } }
            }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["deleteAccount"]["deletedUserId"].is_string(),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM articles WHERE title = 'After'")
            .await,
        0
    );
}

#[tokio::test]
async fn dates_past_any_calendar_are_the_writers_mistake_not_ours() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { article { id } userErrors { field message code } } }";
    for input in [
        json!({ "title": "Far", "publishedAt": "-5000-01-01T00:00:00Z" }),
        json!({ "title": "Old", "publishedAt": "1066-10-14T09:00:00Z" }),
        json!({ "bodyMarkdown": "---\ntitle: Front\ndate: 1800-01-01\n---\nx" }),
    ] {
        let refused = refused(&app, Some(&ada), create, json!({ "i": input.clone() })).await;
        assert_eq!(
            refused,
            pairs(&[("input.publishedAt", "INVALID")]),
            "{input}"
        );
    }
}
