//! Organizations and co-authors: invitations, what each role may and may not do, the
//! review queue, and a co-authored article's visibility, notifications and counters for
//! every author.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const CREATE_ORG: &str = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { userErrors { field message code } organization { id slug viewerRole membersCount } } }";
const INVITE: &str = "mutation($o: ID!, $u: String!, $r: OrganizationRole) { inviteToOrganization(input: { organizationId: $o, username: $u, role: $r }) { userErrors { field message code } invitation { id role } } }";
const RESPOND: &str = "mutation($id: ID!, $a: Boolean!) { respondToOrganizationInvitation(input: { id: $id, accept: $a }) { userErrors { field message code } organization { membersCount viewerRole } } }";
const INVITATIONS: &str = "{ viewer { organizationInvitations { id role organization { slug } invitedBy { username } } } }";
const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
const UPDATE: &str = "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id title } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { id status } } }";
const SUBMIT: &str = "mutation($id: ID!) { submitForReview(input: { id: $id }) { userErrors { field message code } article { reviewState } } }";
const RETURN: &str = "mutation($id: ID!, $n: String!) { returnArticle(input: { id: $id, note: $n }) { userErrors { field message code } article { id } } }";
const QUEUE: &str = "query($s: String!) { organization(slug: $s) { articlesCount reviewQueue { title } invitations { role } articles { edges { node { title organization { slug } } } } } }";
const ROLE: &str = "mutation($o: ID!, $u: ID!, $r: OrganizationRole!) { setOrganizationRole(input: { organizationId: $o, userId: $u, role: $r }) { userErrors { field message code } member { role } } }";
const LEAVE: &str = "mutation($o: ID!) { leaveOrganization(input: { organizationId: $o }) { userErrors { field message code } organization { membersCount } } }";

async fn user_id(app: &TestApp, username: &str) -> Value {
    app.ok(
        None,
        "query($u: String!) { user(username: $u) { id } }",
        json!({ "u": username }),
    )
    .await["user"]["id"]
        .clone()
}

async fn join(app: &TestApp, owner: &str, org: &Value, token: &str, name: &str, role: &str) {
    app.ok(
        Some(owner),
        INVITE,
        json!({ "o": org, "u": name, "r": role }),
    )
    .await;
    let invitations = app.ok(Some(token), INVITATIONS, json!({})).await;
    let invitation = &invitations["viewer"]["organizationInvitations"][0];
    assert_eq!(invitation["role"], role);
    app.ok(
        Some(token),
        RESPOND,
        json!({ "id": invitation["id"], "a": true }),
    )
    .await;
}

#[tokio::test]
async fn organizations_invite_and_each_role_does_what_it_may() {
    let app = spawn_app().await;
    let owner = app.member("olivia").await;
    let editor = app.member("edgar").await;
    let writer = app.member("wanda").await;
    let outsider = app.member("oscar").await;

    // A slug shares the members' address space.
    app.fails_on(
        Some(&owner),
        CREATE_ORG,
        json!({ "i": { "slug": "Edgar", "name": "Taken" } }),
        ("BAD_USER_INPUT", "slug"),
    )
    .await;
    let created = app
        .ok(
            Some(&owner),
            CREATE_ORG,
            json!({ "i": { "slug": "acme", "name": "Acme Corp", "description": "We make things" } }),
        )
        .await;
    let org = created["createOrganization"]["organization"]["id"].clone();
    assert_eq!(
        created["createOrganization"]["organization"]["viewerRole"],
        "OWNER"
    );
    let (status, body) = app
        .graphql(
            "mutation { register(input: { username: \"ACME\", email: \"acme@example.com\", password: \"correct horse battery\" }) { userErrors { field code } token } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["register"]["userErrors"][0]["field"],
        json!(["input", "username"]),
        "{body}"
    );

    // Only owners invite; an invitation can be declined.
    app.fails(
        Some(&outsider),
        INVITE,
        json!({ "o": org, "u": "oscar", "r": "OWNER" }),
        "FORBIDDEN",
    )
    .await;
    app.ok(Some(&owner), INVITE, json!({ "o": org, "u": "oscar" }))
        .await;
    let invitations = app.ok(Some(&outsider), INVITATIONS, json!({})).await;
    let invitation = invitations["viewer"]["organizationInvitations"][0].clone();
    assert_eq!(invitation["organization"]["slug"], "acme");
    assert_eq!(invitation["invitedBy"]["username"], "olivia");
    app.fails(
        Some(&writer),
        RESPOND,
        json!({ "id": invitation["id"], "a": true }),
        "NOT_FOUND",
    )
    .await;
    app.ok(
        Some(&outsider),
        RESPOND,
        json!({ "id": invitation["id"], "a": false }),
    )
    .await;
    join(&app, &owner, &org, &editor, "edgar", "EDITOR").await;
    join(&app, &owner, &org, &writer, "wanda", "MEMBER").await;
    let queue = app.ok(Some(&owner), QUEUE, json!({ "s": "acme" })).await;
    assert_eq!(queue["organization"]["invitations"], json!([]));

    // A MEMBER writes drafts for the organization but does not publish them...
    app.fails(
        Some(&writer),
        CREATE,
        json!({ "i": { "title": "Launch", "bodyMarkdown": "x", "organizationId": org, "published": true } }),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&outsider),
        CREATE,
        json!({ "i": { "title": "Not mine", "bodyMarkdown": "x", "organizationId": org } }),
        "FORBIDDEN",
    )
    .await;
    let draft = app
        .ok(
            Some(&writer),
            CREATE,
            json!({ "i": { "title": "Launch", "bodyMarkdown": "x", "organizationId": org } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.fails(Some(&writer), PUBLISH, json!({ "id": draft }), "FORBIDDEN")
        .await;
    // ... nor invites, nor changes roles.
    app.fails(
        Some(&writer),
        INVITE,
        json!({ "o": org, "u": "oscar" }),
        "FORBIDDEN",
    )
    .await;
    let wanda = user_id(&app, "wanda").await;
    app.fails(
        Some(&writer),
        ROLE,
        json!({ "o": org, "u": wanda, "r": "EDITOR" }),
        "FORBIDDEN",
    )
    .await;
    // The editors do not see a draft that was not submitted.
    app.fails(Some(&editor), PUBLISH, json!({ "id": draft }), "NOT_FOUND")
        .await;

    // The review queue: submitted, sent back with a note, submitted again, published.
    let submitted = app.ok(Some(&writer), SUBMIT, json!({ "id": draft })).await;
    assert_eq!(
        submitted["submitForReview"]["article"]["reviewState"],
        "PENDING"
    );
    let queue = app.ok(Some(&editor), QUEUE, json!({ "s": "acme" })).await;
    assert_eq!(
        queue["organization"]["reviewQueue"],
        json!([{ "title": "Launch" }])
    );
    let hidden = app.ok(Some(&writer), QUEUE, json!({ "s": "acme" })).await;
    assert_eq!(hidden["organization"]["reviewQueue"], json!([]));
    app.fails(
        Some(&writer),
        RETURN,
        json!({ "id": draft, "n": "looks good to me" }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&editor),
        RETURN,
        json!({ "id": draft, "n": "Add a cover" }),
    )
    .await;
    let seen = app
        .ok(
            Some(&writer),
            "query($id: ID!) { node(id: $id) { ... on Article { reviewState reviewNote } } }",
            json!({ "id": draft }),
        )
        .await;
    assert_eq!(
        seen["node"],
        json!({ "reviewState": "RETURNED", "reviewNote": "Add a cover" })
    );
    app.ok(Some(&writer), SUBMIT, json!({ "id": draft })).await;
    // An editor edits and publishes the organization's article.
    app.ok(
        Some(&editor),
        UPDATE,
        json!({ "i": { "id": draft, "title": "Launch day" } }),
    )
    .await;
    let published = app.ok(Some(&editor), PUBLISH, json!({ "id": draft })).await;
    assert_eq!(
        published["publishArticle"]["article"]["status"],
        "PUBLISHED"
    );
    let after = app.ok(None, QUEUE, json!({ "s": "acme" })).await;
    assert_eq!(after["organization"]["articlesCount"], 1);
    assert_eq!(
        after["organization"]["articles"]["edges"][0]["node"],
        json!({ "title": "Launch day", "organization": { "slug": "acme" } })
    );
    let page = app.get("/acme").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Acme Corp") && page.contains("Launch day"),
        "{page}"
    );
    // A member cannot edit another's organization article.
    let other = app
        .ok(
            Some(&editor),
            CREATE,
            json!({ "i": { "title": "Editorial", "bodyMarkdown": "x", "organizationId": org, "published": true } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.fails(
        Some(&writer),
        UPDATE,
        json!({ "i": { "id": other, "title": "Mine now" } }),
        "FORBIDDEN",
    )
    .await;
    const CAN: &str =
        "query($id: ID!) { node(id: $id) { ... on Article { viewerCanUpdate viewerCanDelete } } }";
    let by_owner = app.ok(Some(&owner), CAN, json!({ "id": other })).await;
    assert_eq!(
        by_owner["node"],
        json!({ "viewerCanUpdate": true, "viewerCanDelete": false })
    );
    let by_writer = app.ok(Some(&writer), CAN, json!({ "id": other })).await;
    assert_eq!(
        by_writer["node"],
        json!({ "viewerCanUpdate": false, "viewerCanDelete": false })
    );

    // The last owner stays until another owner is named.
    app.fails_on(
        Some(&owner),
        LEAVE,
        json!({ "o": org }),
        ("BAD_USER_INPUT", "userId"),
    )
    .await;
    let edgar = user_id(&app, "edgar").await;
    app.ok(
        Some(&owner),
        ROLE,
        json!({ "o": org, "u": edgar, "r": "OWNER" }),
    )
    .await;
    let left = app.ok(Some(&owner), LEAVE, json!({ "o": org })).await;
    assert_eq!(left["leaveOrganization"]["organization"]["membersCount"], 2);
    app.ok(
        Some(&editor),
        "mutation($o: ID!, $u: ID!) { removeOrganizationMember(input: { organizationId: $o, userId: $u }) { userErrors { message } organization { membersCount } } }",
        json!({ "o": org, "u": wanda }),
    )
    .await;
    // Her article stays with the organization.
    let after = app.ok(None, QUEUE, json!({ "s": "acme" })).await;
    assert_eq!(after["organization"]["articlesCount"], 2);
}

#[tokio::test]
async fn a_co_authored_article_belongs_to_every_author() {
    let app = spawn_app().await;
    let author = app.member("alice").await;
    let co = app.member("bob").await;
    let reader = app.member("reader").await;
    let article = app
        .ok(
            Some(&author),
            CREATE,
            json!({ "i": { "title": "Pairing", "bodyMarkdown": "x" } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    const INVITE_CO: &str = "mutation($a: ID!, $u: String!) { inviteCoAuthor(input: { articleId: $a, username: $u }) { userErrors { field message code } article { pendingCoAuthors { username } } } }";
    app.fails(
        Some(&reader),
        INVITE_CO,
        json!({ "a": article, "u": "reader" }),
        "NOT_FOUND",
    )
    .await;
    let invited = app
        .ok(
            Some(&author),
            INVITE_CO,
            json!({ "a": article, "u": "bob" }),
        )
        .await;
    assert_eq!(
        invited["inviteCoAuthor"]["article"]["pendingCoAuthors"],
        json!([{ "username": "bob" }])
    );
    let waiting = app
        .ok(
            Some(&co),
            "{ viewer { coAuthorInvitations { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        waiting["viewer"]["coAuthorInvitations"],
        json!([{ "title": "Pairing" }])
    );
    app.ok(
        Some(&co),
        "mutation($a: ID!) { respondToCoAuthorship(input: { articleId: $a, accept: true }) { userErrors { message } article { coAuthors { username } } } }",
        json!({ "a": article }),
    )
    .await;
    // Each author edits it; it goes live once and counts for both.
    app.ok(
        Some(&co),
        UPDATE,
        json!({ "i": { "id": article, "bodyMarkdown": "written together" } }),
    )
    .await;
    app.ok(Some(&author), PUBLISH, json!({ "id": article }))
        .await;
    const PROFILE: &str = "query($u: String!) { user(username: $u) { articlesCount articles { edges { node { title author { username } coAuthors { username } } } } } }";
    for name in ["alice", "bob"] {
        let profile = app.ok(None, PROFILE, json!({ "u": name })).await;
        assert_eq!(profile["user"]["articlesCount"], 1, "{name}: {profile}");
        assert_eq!(
            profile["user"]["articles"]["edges"][0]["node"],
            json!({ "title": "Pairing", "author": { "username": "alice" }, "coAuthors": [{ "username": "bob" }] }),
        );
    }
    let page = app.get("/bob").await.text().await.unwrap();
    assert!(page.contains("Pairing"), "{page}");
    // Following the co-author brings it into the FOLLOWING feed.
    let bob = user_id(&app, "bob").await;
    app.ok(
        Some(&reader),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { message } } }",
        json!({ "id": bob }),
    )
    .await;
    let feed = app
        .ok(
            Some(&reader),
            "{ feed(type: FOLLOWING) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        feed["feed"]["edges"],
        json!([{ "node": { "title": "Pairing" } }])
    );
    // A comment notifies every author.
    app.ok(
        Some(&reader),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Nice pair\" }) { userErrors { message } } }",
        json!({ "a": article }),
    )
    .await;
    app.drain_jobs().await;
    for name in ["alice", "bob"] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id
                 WHERE u.username = '{name}' AND n.kind = 'comment'"
            ))
            .await,
            1,
            "{name}"
        );
    }
    // Stepping down takes it off the co-author's count; only the author deletes it.
    app.fails(
        Some(&co),
        "mutation($id: ID!) { deleteArticle(input: { id: $id }) { userErrors { message } } }",
        json!({ "id": article }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&co),
        "mutation($a: ID!, $u: ID!) { removeCoAuthor(input: { articleId: $a, userId: $u }) { userErrors { message } } }",
        json!({ "a": article, "u": bob }),
    )
    .await;
    let profile = app.ok(None, PROFILE, json!({ "u": "bob" })).await;
    assert_eq!(profile["user"]["articlesCount"], 0);
    assert_eq!(profile["user"]["articles"]["edges"], json!([]));
    app.fails(
        Some(&co),
        UPDATE,
        json!({ "i": { "id": article, "title": "Still mine?" } }),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn following_an_organization_fills_the_following_feed() {
    let app = spawn_app().await;
    let owner = app.member("olivia").await;
    let reader = app.member("reader").await;
    let org = app
        .ok(
            Some(&owner),
            CREATE_ORG,
            json!({ "i": { "slug": "acme", "name": "Acme" } }),
        )
        .await["createOrganization"]["organization"]["id"]
        .clone();
    app.ok(
        Some(&owner),
        CREATE,
        json!({ "i": { "title": "From Acme", "bodyMarkdown": "x", "organizationId": org, "published": true } }),
    )
    .await;
    app.ok(
        Some(&owner),
        CREATE,
        json!({ "i": { "title": "Personal", "bodyMarkdown": "x", "published": true } }),
    )
    .await;
    let followed = app
        .ok(
            Some(&reader),
            "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { message } organization { followersCount viewerIsFollowing } } }",
            json!({ "id": org }),
        )
        .await;
    assert_eq!(
        followed["follow"]["organization"],
        json!({ "followersCount": 1, "viewerIsFollowing": true })
    );
    let followers = app
        .ok(
            None,
            "{ organization(slug: \"ACME\") { followers { totalCount edges { node { username } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        followers["organization"]["followers"],
        json!({ "totalCount": 1, "edges": [{ "node": { "username": "reader" } }] })
    );
    let feed = app
        .ok(
            Some(&reader),
            "{ feed(type: FOLLOWING) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        feed["feed"]["edges"],
        json!([{ "node": { "title": "From Acme" } }])
    );
}

#[tokio::test]
async fn a_members_organizations_and_their_lists_cost_a_statement_each() {
    let app = crate::helpers::spawn_counting_app().await;
    let owner = app.member("olivia").await;
    for slug in ["acme", "globex", "initech"] {
        let org = app
            .ok(
                Some(&owner),
                CREATE_ORG,
                json!({ "i": { "slug": slug, "name": slug } }),
            )
            .await["createOrganization"]["organization"]["id"]
            .clone();
        let draft = app
            .ok(
                Some(&owner),
                CREATE,
                json!({ "i": { "title": format!("{slug} news"), "bodyMarkdown": "x", "organizationId": org } }),
            )
            .await["createArticle"]["article"]["id"]
            .clone();
        app.ok(Some(&owner), SUBMIT, json!({ "id": draft })).await;
    }
    const LISTS: &str = "{ viewer { organizations { role organization { slug viewerRole members { role user { username } } invitations { role } reviewQueue { title pendingCoAuthors { username } } } } } }";
    app.ok(Some(&owner), LISTS, json!({})).await;
    let before = app.statements();
    let data = app.ok(Some(&owner), LISTS, json!({})).await;
    let statements = app.statements() - before;
    let orgs = data["viewer"]["organizations"].as_array().unwrap();
    assert_eq!(orgs.len(), 3);
    for org in orgs {
        let org = &org["organization"];
        assert_eq!(
            org["members"],
            json!([{ "role": "OWNER", "user": { "username": "olivia" } }])
        );
        assert_eq!(org["reviewQueue"].as_array().unwrap().len(), 1);
    }
    // The viewer, the memberships, the organizations, the roles, then one statement per
    // kind of list (members, invitations, queue, pending co-authors) and one for the
    // members: 8 for three organizations, as for one.
    assert!(statements <= 8, "{statements} statements");
}

#[tokio::test]
async fn an_erased_owner_leaves_an_owner_behind_and_the_counts_right() {
    let app = spawn_app().await;
    let owner = app.member("olivia").await;
    let editor = app.member("edgar").await;
    let co = app.member("bob").await;
    let org = app
        .ok(
            Some(&owner),
            CREATE_ORG,
            json!({ "i": { "slug": "acme", "name": "Acme" } }),
        )
        .await["createOrganization"]["organization"]["id"]
        .clone();
    join(&app, &owner, &org, &editor, "edgar", "EDITOR").await;
    app.ok(
        Some(&co),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { message } } }",
        json!({ "id": org }),
    )
    .await;
    let article = app
        .ok(
            Some(&owner),
            CREATE,
            json!({ "i": { "title": "Together", "bodyMarkdown": "x", "organizationId": org } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.ok(
        Some(&owner),
        "mutation($a: ID!) { inviteCoAuthor(input: { articleId: $a, username: \"bob\" }) { userErrors { message } } }",
        json!({ "a": article }),
    )
    .await;
    app.ok(
        Some(&co),
        "mutation($a: ID!) { respondToCoAuthorship(input: { articleId: $a, accept: true }) { userErrors { message } } }",
        json!({ "a": article }),
    )
    .await;
    app.ok(Some(&owner), PUBLISH, json!({ "id": article }))
        .await;
    const STATE: &str = "{ organization(slug: \"acme\") { articlesCount membersCount followersCount members { role user { username } } } user(username: \"bob\") { articlesCount } }";
    let before = app.ok(None, STATE, json!({})).await;
    assert_eq!(before["organization"]["articlesCount"], 1);
    assert_eq!(before["user"]["articlesCount"], 1);
    app.ok(
        Some(&owner),
        "mutation { deleteAccount(input: { password: \"correct horse battery\" }) { userErrors { field message code } deletedUserId } }",
        json!({}),
    )
    .await;
    let after = app.ok(None, STATE, json!({})).await;
    assert_eq!(
        after["organization"],
        json!({ "articlesCount": 0, "membersCount": 1, "followersCount": 1,
                "members": [{ "role": "OWNER", "user": { "username": "edgar" } }] })
    );
    assert_eq!(after["user"]["articlesCount"], 0);
    // The follower leaving takes their follow off the count.
    app.ok(
        Some(&co),
        "mutation { deleteAccount(input: { password: \"correct horse battery\" }) { userErrors { field message code } deletedUserId } }",
        json!({}),
    )
    .await;
    let last = app.ok(None, STATE, json!({})).await;
    assert_eq!(last["organization"]["followersCount"], 0);
}
