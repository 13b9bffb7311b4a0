//! Signing in with GitHub (against a local OAuth server that checks PKCE and uses each
//! code once), two-factor authentication, and a member's data export imported elsewhere.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TestApp, code, message, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
struct Account {
    id: i64,
    login: String,
    email: String,
    verified: bool,
}

#[derive(Default)]
struct Provider {
    /// Codes handed out and not yet exchanged: the PKCE challenge and the account.
    codes: HashMap<String, (String, String)>,
    accounts: HashMap<String, Account>,
    next: u64,
}

/// A local GitHub: the authorize step is done by the test ([`FakeGitHub::approve`]); the
/// token endpoint checks the client, the verifier against the challenge, and takes each
/// code once; the API serves `/user` and `/user/emails` for its access tokens.
#[derive(Clone)]
struct FakeGitHub {
    server: Arc<MockServer>,
    state: Arc<Mutex<Provider>>,
}

struct TokenEndpoint(Arc<Mutex<Provider>>);

fn form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = form(&request.body);
        // GitHub answers a refused exchange with 200 and an `error` field.
        let refuse = |why: &str| ResponseTemplate::new(200).set_body_json(json!({ "error": why }));
        if form.get("client_id").map(String::as_str) != Some("client-1")
            || form.get("client_secret").map(String::as_str) != Some("secret-1")
        {
            return refuse("incorrect_client_credentials");
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let Some((challenge, login)) = self.0.lock().unwrap().codes.remove(&code) else {
            return refuse("bad_verification_code");
        };
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        if derived != challenge {
            return refuse("bad_verification_code");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("tok-{login}"),
            "token_type": "bearer",
            "scope": "read:user,user:email",
        }))
    }
}

struct ApiEndpoint {
    state: Arc<Mutex<Provider>>,
    emails: bool,
}

impl Respond for ApiEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|v| v.strip_prefix("tok-"))
            .unwrap_or("");
        let Some(account) = self.state.lock().unwrap().accounts.get(token).cloned() else {
            return ResponseTemplate::new(401)
                .set_body_json(json!({ "message": "Bad credentials" }));
        };
        if self.emails {
            ResponseTemplate::new(200).set_body_json(json!([
                { "email": account.email, "primary": true, "verified": account.verified,
                  "visibility": "private" }
            ]))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": account.id, "login": account.login, "name": format!("{} at GitHub", account.login),
            }))
        }
    }
}

impl FakeGitHub {
    async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(Provider::default()));
        Mock::given(method("POST"))
            .and(path("/login/oauth/access_token"))
            .respond_with(TokenEndpoint(state.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .respond_with(ApiEndpoint {
                state: state.clone(),
                emails: false,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/user/emails"))
            .respond_with(ApiEndpoint {
                state: state.clone(),
                emails: true,
            })
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    fn account(&self, login: &str, email: &str, verified: bool) {
        let mut state = self.state.lock().unwrap();
        let id = 1000 + state.accounts.len() as i64;
        state.accounts.insert(
            login.to_owned(),
            Account {
                id,
                login: login.to_owned(),
                email: email.to_owned(),
                verified,
            },
        );
    }

    /// The member approves at GitHub: checks the authorize URL and answers `(code, state)`.
    fn approve(&self, authorize_url: &str, login: &str) -> (String, String) {
        let url = reqwest::Url::parse(authorize_url).unwrap();
        assert!(url.as_str().starts_with(&self.server.uri()), "{url}");
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "client-1");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(query["scope"].contains("user:email"), "{url}");
        assert!(
            query["redirect_uri"].ends_with("/auth/github/callback"),
            "{url}"
        );
        let mut state = self.state.lock().unwrap();
        state.next += 1;
        let code = format!("code-{}", state.next);
        state.codes.insert(
            code.clone(),
            (query["code_challenge"].clone(), login.to_owned()),
        );
        (code, query["state"].clone())
    }

    fn configure(&self, settings: &mut vibecoding::config::Settings) {
        let github = &mut settings.oauth.github;
        github.client_id = Some("client-1".to_owned());
        github.client_secret = Some(secrecy::SecretString::from("secret-1"));
        github.authorize_url = format!("{}/login/oauth/authorize", self.server.uri());
        github.token_url = format!("{}/login/oauth/access_token", self.server.uri());
        github.api_url = self.server.uri();
    }
}

/// Where a callback sent the browser: the query of its Location, and the session cookie
/// it set, if any.
struct Landing {
    query: HashMap<String, String>,
    session: Option<String>,
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .filter(|v| !v.is_empty())
}

/// `GET /auth/github` (as the browser holding `session`, for `intent`): the provider's
/// URL and the state cookie.
async fn begin(app: &TestApp, session: Option<&str>, intent: &str) -> (String, String) {
    let mut request = app.client.get(app.url(&format!("/auth/github{intent}")));
    if let Some(session) = session {
        request = request.header("cookie", format!("vibecoding_session={session}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let state = cookie(&response, "vibecoding_oauth_state").expect("a state cookie");
    (location, state)
}

async fn callback(app: &TestApp, code: &str, state: &str, cookies: &[(&str, &str)]) -> Landing {
    let cookie_header = cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut request = app
        .client
        .get(app.url("/auth/github/callback"))
        .query(&[("code", code), ("state", state)]);
    if !cookie_header.is_empty() {
        request = request.header("cookie", cookie_header);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    // The query, and the fragment's pairs (where a second-factor challenge travels).
    let fragment = location.fragment().unwrap_or("").to_owned();
    let query = location
        .query_pairs()
        .into_owned()
        .chain(fragment.split('&').filter_map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (format!("#{k}"), v.to_owned()))
        }))
        .collect();
    Landing {
        query,
        session: cookie(&response, "vibecoding_session"),
    }
}

/// A whole sign-in through GitHub as `login`, in a browser holding `session`.
async fn through_github(
    app: &TestApp,
    github: &FakeGitHub,
    login: &str,
    session: Option<&str>,
    intent: &str,
) -> Landing {
    let (location, state_cookie) = begin(app, session, intent).await;
    let (code, state) = github.approve(&location, login);
    assert_eq!(state, state_cookie);
    let mut cookies = vec![("vibecoding_oauth_state", state_cookie.as_str())];
    if let Some(session) = session {
        cookies.push(("vibecoding_session", session));
    }
    callback(app, &code, &state, &cookies).await
}

const VIEWER: &str = "{ viewer { user { username } identities { id provider login } \
                      sessions { current method secondFactor } twoFactor { enabled recoveryCodesLeft } } }";

#[tokio::test]
async fn github_sign_in_creates_links_and_refuses_what_it_must() {
    let github = FakeGitHub::start().await;
    let app = spawn_app_with(Default::default(), |s| github.configure(s)).await;
    github.account("octocat", "octocat@example.com", true);
    github.account("drifter", "drifter@example.com", false);
    github.account("alicegh", "alice@example.com", true);
    github.account("alice", "another-alice@example.com", true);

    // A new member from a GitHub account: the login as username, the email confirmed.
    let landed = through_github(&app, &github, "octocat", None, "").await;
    assert!(landed.query.is_empty(), "{:?}", landed.query);
    let session = landed.session.expect("a session cookie");
    let me = app.ok(Some(&session), VIEWER, json!({})).await;
    assert_eq!(me["viewer"]["user"]["username"], "octocat");
    assert_eq!(me["viewer"]["identities"][0]["provider"], "github");
    assert_eq!(me["viewer"]["identities"][0]["login"], "octocat");
    assert_eq!(me["viewer"]["sessions"][0]["method"], "GITHUB");
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE username = 'octocat' AND email_confirmed_at IS NOT NULL AND password_hash IS NULL").await,
        1
    );
    // Signing in again finds the same member.
    let again = through_github(&app, &github, "octocat", None, "").await;
    assert!(again.session.is_some(), "{:?}", again.query);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'octocat@example.com'")
            .await,
        1
    );

    // A state the browser did not start: nothing happens.
    let (location, _) = begin(&app, None, "").await;
    let (code, state) = github.approve(&location, "octocat");
    let forged = callback(
        &app,
        &code,
        &state,
        &[("vibecoding_oauth_state", "not-this-one")],
    )
    .await;
    assert_eq!(
        forged.query["error"], "BAD_USER_INPUT",
        "{:?}",
        forged.query
    );
    assert!(forged.session.is_none());
    let missing = callback(&app, &code, &state, &[]).await;
    assert_eq!(missing.query["error"], "BAD_USER_INPUT");

    // A code used once is refused by the provider the second time (through a new flow).
    let (location, state_cookie) = begin(&app, None, "").await;
    let (used_code, state) = github.approve(&location, "octocat");
    let first = callback(
        &app,
        &used_code,
        &state,
        &[("vibecoding_oauth_state", &state_cookie)],
    )
    .await;
    assert!(first.session.is_some(), "{:?}", first.query);
    // The same callback again: its state is used up.
    let replay = callback(
        &app,
        &used_code,
        &state,
        &[("vibecoding_oauth_state", &state_cookie)],
    )
    .await;
    assert_eq!(
        replay.query["error"], "BAD_USER_INPUT",
        "{:?}",
        replay.query
    );
    let (location, state_cookie) = begin(&app, None, "").await;
    let (_, state) = github.approve(&location, "octocat");
    let reused = callback(
        &app,
        &used_code,
        &state,
        &[("vibecoding_oauth_state", &state_cookie)],
    )
    .await;
    assert_eq!(
        reused.query["error"], "UNAUTHENTICATED",
        "{:?}",
        reused.query
    );
    assert!(
        reused.query["message"].contains("used or expired"),
        "{:?}",
        reused.query
    );
    assert!(reused.session.is_none());

    // An address GitHub has not verified makes no account: anyone may list anyone's.
    let drifter = through_github(&app, &github, "drifter", None, "").await;
    assert_eq!(
        drifter.query["error"], "BAD_USER_INPUT",
        "{:?}",
        drifter.query
    );
    assert!(
        drifter.query["message"].contains("verified"),
        "{:?}",
        drifter.query
    );
    assert!(drifter.session.is_none());
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'drifter@example.com'")
            .await,
        0
    );

    // An email a member already uses is never merged into their account.
    let alice = app.member("alice").await;
    let taken = through_github(&app, &github, "alicegh", None, "").await;
    assert_eq!(taken.query["error"], "FORBIDDEN", "{:?}", taken.query);
    assert!(taken.query["message"].contains("link"), "{:?}", taken.query);
    assert_eq!(
        app.count("SELECT count(*) FROM identities WHERE login = 'alicegh'")
            .await,
        0
    );
    // A login that is a taken username is adjusted.
    let other = through_github(&app, &github, "alice", None, "").await;
    let other = app.ok(other.session.as_deref(), VIEWER, json!({})).await;
    assert_eq!(other["viewer"]["user"]["username"], "alice_2");

    // Alice links her GitHub account while signed in: her password gives a link that
    // works once, in the browser holding her session.
    let link = "mutation($p: String!) { linkIdentity(input: { provider: \"github\", password: $p }) { userErrors { field message } url } }";
    app.fails_on(
        Some(&alice),
        link,
        json!({ "p": "not her password" }),
        ("BAD_USER_INPUT", "password"),
    )
    .await;
    let grant = |url: &str| {
        let path = url.split_once("/auth/github").unwrap().1.to_owned();
        assert!(path.starts_with("?intent=link&grant="), "{url}");
        path
    };
    let first = app.ok(Some(&alice), link, json!({ "p": PASSWORD })).await;
    let intent = grant(first["linkIdentity"]["url"].as_str().unwrap());
    // Someone else's session cannot use her grant.
    let other_member = app.member("mallory").await;
    let response = app
        .client
        .get(app.url(&format!("/auth/github{intent}")))
        .header("cookie", format!("vibecoding_session={other_member}"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=FORBIDDEN")
    );
    // Nor a callback without her session on the browser.
    let second = app.ok(Some(&alice), link, json!({ "p": PASSWORD })).await;
    let intent = grant(second["linkIdentity"]["url"].as_str().unwrap());
    let (location, state_cookie) = begin(&app, Some(&alice), &intent).await;
    let (code, state) = github.approve(&location, "alicegh");
    let stranger = callback(
        &app,
        &code,
        &state,
        &[("vibecoding_oauth_state", &state_cookie)],
    )
    .await;
    assert_eq!(stranger.query["error"], "FORBIDDEN", "{:?}", stranger.query);
    // A grant works once.
    let used = app
        .client
        .get(app.url(&format!("/auth/github{intent}")))
        .header("cookie", format!("vibecoding_session={alice}"))
        .send()
        .await
        .unwrap();
    assert!(
        used.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=FORBIDDEN")
    );
    let third = app.ok(Some(&alice), link, json!({ "p": PASSWORD })).await;
    let intent = grant(third["linkIdentity"]["url"].as_str().unwrap());
    let linked = through_github(&app, &github, "alicegh", Some(&alice), &intent).await;
    assert_eq!(linked.query["linked"], "github", "{:?}", linked.query);
    app.drain_jobs().await;
    assert!(
        app.emails().iter().any(
            |m| m.to == "alice@example.com" && m.subject.contains("GitHub can now sign you in")
        ),
        "the member is told of the link"
    );
    let signed_in = through_github(&app, &github, "alicegh", None, "").await;
    let me = app
        .ok(signed_in.session.as_deref(), VIEWER, json!({}))
        .await;
    assert_eq!(me["viewer"]["user"]["username"], "alice");
    // Linking a GitHub account another member signs in with is refused.
    let fourth = app.ok(Some(&alice), link, json!({ "p": PASSWORD })).await;
    let intent = grant(fourth["linkIdentity"]["url"].as_str().unwrap());
    let elsewhere = through_github(&app, &github, "octocat", Some(&alice), &intent).await;
    assert_eq!(
        elsewhere.query["error"], "BAD_USER_INPUT",
        "{:?}",
        elsewhere.query
    );
    // Starting a link signed out is refused; so is an unknown provider.
    let anonymous = app.get("/auth/github?intent=link").await;
    assert!(
        anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=UNAUTHENTICATED")
    );
    app.fails(
        Some(&alice),
        link.replace("github", "myspace").as_str(),
        json!({ "p": PASSWORD }),
        "NOT_FOUND",
    )
    .await;

    // GitHub sign-in respects the second factor.
    let secret = enable_two_factor(&app, &alice).await;
    let challenged = through_github(&app, &github, "alicegh", None, "").await;
    assert!(challenged.session.is_none());
    assert!(
        !challenged.query.contains_key("challenge"),
        "not in the query: {:?}",
        challenged.query
    );
    let challenge = challenged.query["#challenge"].clone();
    let done = app
        .ok(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": next_code(&secret) } }),
        )
        .await;
    let token = done["completeLogin"]["token"].as_str().unwrap();
    let me = app.ok(Some(token), VIEWER, json!({})).await;
    let current = me["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["method"], "GITHUB");
    assert_eq!(current["secondFactor"], "TOTP");

    // Unlinking: refused when it is the only way in (octocat has no password).
    let octocat = through_github(&app, &github, "octocat", None, "")
        .await
        .session
        .unwrap();
    let mine = app.ok(Some(&octocat), VIEWER, json!({})).await;
    let id = mine["viewer"]["identities"][0]["id"].clone();
    let unlink = "mutation($id: ID!) { unlinkIdentity(input: { id: $id }) { userErrors { message } unlinkedIdentityId } }";
    let refused = app
        .fails(
            Some(&octocat),
            unlink,
            json!({ "id": id }),
            "BAD_USER_INPUT",
        )
        .await;
    assert!(message(&refused).contains("only way"), "{refused}");
    // Nobody unlinks someone else's.
    app.fails(Some(&alice), unlink, json!({ "id": id }), "NOT_FOUND")
        .await;
    // Alice has a password: she may.
    let hers =
        app.ok(Some(&alice), VIEWER, json!({})).await["viewer"]["identities"][0]["id"].clone();
    let done = app.ok(Some(&alice), unlink, json!({ "id": hers })).await;
    assert_eq!(done["unlinkIdentity"]["unlinkedIdentityId"], hers);
    let after = through_github(&app, &github, "alicegh", None, "").await;
    assert_eq!(after.query["error"], "FORBIDDEN", "{:?}", after.query);

    // A password reset unlinks every provider: whoever linked one may not be the member.
    let fifth = app.ok(Some(&alice), link, json!({ "p": PASSWORD })).await;
    let intent = grant(fifth["linkIdentity"]["url"].as_str().unwrap());
    let relinked = through_github(&app, &github, "alicegh", Some(&alice), &intent).await;
    assert_eq!(relinked.query["linked"], "github", "{:?}", relinked.query);
    app.ok(
        None,
        "mutation { requestPasswordReset(input: { email: \"alice@example.com\" }) { clientMutationId } }",
        json!({}),
    )
    .await;
    app.drain_jobs().await;
    let mail = app
        .emails()
        .into_iter()
        .rev()
        .find(|m| m.to == "alice@example.com" && m.subject.contains("Reset"))
        .unwrap();
    app.ok(
        None,
        "mutation($t: String!) { resetPassword(input: { token: $t, password: \"a brand new passphrase\" }) { clientMutationId } }",
        json!({ "t": mail.token("reset-password") }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM identities WHERE login = 'alicegh'")
            .await,
        0
    );
}

const COMPLETE: &str = "mutation($input: CompleteLoginInput!) { completeLogin(input: $input) { userErrors { field message } token user { username } } }";
const LOGIN: &str = "mutation($login: String!) { login(input: { login: $login, password: \"correct horse battery\" }) { token secondFactorChallenge secondFactorExpiresAt } }";

/// The code the app will show in the next 30-second step (the current one may be used
/// up already: a code is accepted once).
fn next_code(secret: &totp_rs::Totp) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    secret.generate(now + 30).to_string()
}

fn current_code(secret: &totp_rs::Totp) -> String {
    secret.generate_current().to_string()
}

/// Turns two-factor authentication on for the member behind `token`.
async fn enable_two_factor(app: &TestApp, token: &str) -> totp_rs::Totp {
    let begun = app
        .ok(
            Some(token),
            "mutation($p: String!) { beginTwoFactorSetup(input: { password: $p }) { secret otpauthUri } }",
            json!({ "p": PASSWORD }),
        )
        .await;
    let uri = begun["beginTwoFactorSetup"]["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = totp_rs::Totp::from_url(uri).unwrap();
    assert_eq!(
        totp.secret().to_base32(),
        begun["beginTwoFactorSetup"]["secret"].as_str().unwrap()
    );
    let confirm = "mutation($c: String!) { confirmTwoFactorSetup(input: { code: $c }) { userErrors { field message } recoveryCodes viewer { twoFactor { enabled } } } }";
    app.fails_on(
        Some(token),
        confirm,
        json!({ "c": "000000" }),
        ("BAD_USER_INPUT", "code"),
    )
    .await;
    let confirmed = app
        .ok(Some(token), confirm, json!({ "c": current_code(&totp) }))
        .await;
    assert_eq!(
        confirmed["confirmTwoFactorSetup"]["viewer"]["twoFactor"]["enabled"],
        true
    );
    totp
}

#[tokio::test]
async fn two_factor_sign_in_with_a_code_a_recovery_code_and_wrong_codes() {
    let app = spawn_app().await;
    let token = app.member("guarded").await;
    let begun = app
        .ok(
            Some(&token),
            "mutation($p: String!) { beginTwoFactorSetup(input: { password: $p }) { otpauthUri } }",
            json!({ "p": PASSWORD }),
        )
        .await;
    let totp =
        totp_rs::Totp::from_url(begun["beginTwoFactorSetup"]["otpauthUri"].as_str().unwrap())
            .unwrap();
    // Until confirmed, nothing changes.
    let before = app.ok(None, LOGIN, json!({ "login": "guarded" })).await;
    assert!(before["login"]["token"].is_string());
    let confirmed = app
        .ok(
            Some(&token),
            "mutation($c: String!) { confirmTwoFactorSetup(input: { code: $c }) { recoveryCodes } }",
            json!({ "c": current_code(&totp) }),
        )
        .await;
    let codes: Vec<String> =
        serde_json::from_value(confirmed["confirmTwoFactorSetup"]["recoveryCodes"].clone())
            .unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    // Only their hashes are kept.
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        10
    );
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 32 && !codes.iter().any(|c| c.as_bytes() == h.as_slice()))
    );

    // The password alone now gives a challenge, not a session.
    let first = app.ok(None, LOGIN, json!({ "login": "guarded" })).await;
    assert!(first["login"]["token"].is_null(), "{first}");
    let challenge = first["login"]["secondFactorChallenge"]
        .as_str()
        .unwrap()
        .to_owned();
    // A wrong code: told so, with the tries left.
    let wrong = app
        .fails_on(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": "123456" } }),
            ("BAD_USER_INPUT", "code"),
        )
        .await;
    assert!(message(&wrong).contains("4 tries left"), "{wrong}");
    // The right one signs in, marked with the factor.
    let code_used = next_code(&totp);
    let done = app
        .ok(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": code_used } }),
        )
        .await;
    let session = done["completeLogin"]["token"].as_str().unwrap().to_owned();
    let me = app.ok(Some(&session), VIEWER, json!({})).await;
    let current = me["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        (current["method"].as_str(), current["secondFactor"].as_str()),
        (Some("PASSWORD"), Some("TOTP"))
    );
    // The challenge is used up, and the same code is not accepted twice.
    app.fails(
        None,
        COMPLETE,
        json!({ "input": { "challenge": challenge, "code": code_used } }),
        "UNAUTHENTICATED",
    )
    .await;
    let again = app.ok(None, LOGIN, json!({ "login": "guarded" })).await;
    let challenge = again["login"]["secondFactorChallenge"]
        .as_str()
        .unwrap()
        .to_owned();
    app.fails_on(
        None,
        COMPLETE,
        json!({ "input": { "challenge": challenge, "code": code_used } }),
        ("BAD_USER_INPUT", "code"),
    )
    .await;

    // A recovery code works once (case and dashes do not matter).
    let typed = codes[0].to_uppercase().replace('-', " ");
    let done = app
        .ok(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": typed } }),
        )
        .await;
    let session = done["completeLogin"]["token"].as_str().unwrap().to_owned();
    let me = app.ok(Some(&session), VIEWER, json!({})).await;
    assert_eq!(me["viewer"]["twoFactor"]["recoveryCodesLeft"], 9);
    let current = me["viewer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["secondFactor"], "RECOVERY_CODE");
    let again = app.ok(None, LOGIN, json!({ "login": "guarded" })).await;
    let challenge = again["login"]["secondFactorChallenge"]
        .as_str()
        .unwrap()
        .to_owned();
    app.fails_on(
        None,
        COMPLETE,
        json!({ "input": { "challenge": challenge, "code": codes[0] } }),
        ("BAD_USER_INPUT", "code"),
    )
    .await;

    // Too many wrong codes lock the challenge: even the right code no longer helps.
    for _ in 0..3 {
        app.fails_on(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": "000000" } }),
            ("BAD_USER_INPUT", "code"),
        )
        .await;
    }
    let locked = app
        .fails(
            None,
            COMPLETE,
            json!({ "input": { "challenge": challenge, "code": "000000" } }),
            "UNAUTHENTICATED",
        )
        .await;
    assert!(message(&locked).contains("locked"), "{locked}");
    app.fails(
        None,
        COMPLETE,
        json!({ "input": { "challenge": challenge, "code": codes[1] } }),
        "UNAUTHENTICATED",
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM login_challenges").await,
        0,
        "the locked challenge is gone"
    );
    // A made-up challenge is refused the same way.
    app.fails(
        None,
        COMPLETE,
        json!({ "input": { "challenge": "nope", "code": codes[1] } }),
        "UNAUTHENTICATED",
    )
    .await;

    // New recovery codes replace the old ones; turning it off takes the password and a code.
    let regenerate = "mutation($p: String!, $c: String!) { regenerateRecoveryCodes(input: { password: $p, code: $c }) { userErrors { field message } recoveryCodes } }";
    app.fails_on(
        Some(&token),
        regenerate,
        json!({ "p": PASSWORD, "c": "000000" }),
        ("BAD_USER_INPUT", "code"),
    )
    .await;
    let fresh = app
        .ok(
            Some(&token),
            regenerate,
            json!({ "p": PASSWORD, "c": codes[2] }),
        )
        .await;
    let fresh: Vec<String> =
        serde_json::from_value(fresh["regenerateRecoveryCodes"]["recoveryCodes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let disable = "mutation($p: String!, $c: String!) { disableTwoFactor(input: { password: $p, code: $c }) { userErrors { field message } viewer { twoFactor { enabled } } } }";
    app.fails_on(
        Some(&token),
        disable,
        json!({ "p": "wrong password!", "c": fresh[0] }),
        ("BAD_USER_INPUT", "password"),
    )
    .await;
    app.fails_on(
        Some(&token),
        disable,
        json!({ "p": PASSWORD, "c": codes[3] }),
        ("BAD_USER_INPUT", "code"),
    )
    .await;
    let off = app
        .ok(
            Some(&token),
            disable,
            json!({ "p": PASSWORD, "c": fresh[0] }),
        )
        .await;
    assert_eq!(
        off["disableTwoFactor"]["viewer"]["twoFactor"]["enabled"],
        false
    );
    let plain = app.ok(None, LOGIN, json!({ "login": "guarded" })).await;
    assert!(plain["login"]["token"].is_string(), "{plain}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes").await, 0);
}

fn unzip(bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

const IMPORT: &str = "mutation($file: Upload!, $publish: Boolean) { importArticles(input: { file: $file, publish: $publish }) { userErrors { field message } articles { title status publishedAt canonicalUrl tagList } skipped { source title reason } } }";
const MINE: &str = "{ viewer { live: articles(status: PUBLISHED, first: 20) { edges { node { title status publishedAt canonicalUrl tagList } } } drafts: articles(status: DRAFT, first: 20) { edges { node { title } } } } }";

#[tokio::test]
async fn an_export_is_imported_into_a_fresh_account_with_the_same_articles() {
    let app = spawn_app().await;
    let writer = app.member("writer").await;
    let reader = app.member("reader").await;
    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message } article { id } } }";
    let published = app
        .ok(
            Some(&writer),
            create,
            json!({ "i": {
                "title": "Ownership, explained",
                "bodyMarkdown": "---\ntitle: stale title\n---\n\nBorrowing *rules*: \"quotes\" and a colon: here.",
                "tags": ["rust", "beginners"],
                "published": true,
                "canonicalUrl": "https://blog.example.com/ownership",
                "publishedAt": "2024-03-05T10:00:00Z",
                "description": "What moves and what borrows",
            } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.ok(
        Some(&writer),
        create,
        json!({ "i": { "title": "Lifetimes (draft)", "bodyMarkdown": "Not ready yet.", "tags": ["rust"] } }),
    )
    .await;
    app.ok(
        Some(&reader),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Nice one\" }) { comment { id } } }",
        json!({ "a": published }),
    )
    .await;
    app.ok(
        Some(&writer),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Thanks for reading!\" }) { comment { id } } }",
        json!({ "a": published }),
    )
    .await;
    let rust = app
        .ok(None, "{ tag(name: \"rust\") { id } }", json!({}))
        .await["tag"]["id"]
        .clone();
    app.ok(
        Some(&writer),
        "mutation($id: ID!) { follow(input: { id: $id }) { clientMutationId } }",
        json!({ "id": rust }),
    )
    .await;
    let (_, uploaded) = app
        .upload(
            Some(&writer),
            "mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { url } } }",
            json!({ "file": null }),
            "file",
            "pixel.png",
            crate::uploads::png(8, 8),
        )
        .await;
    assert!(
        uploaded["data"]["uploadImage"]["image"]["url"].is_string(),
        "{uploaded}"
    );

    // The export: queued, built by the worker, announced by email, downloadable.
    let requested = app
        .ok(
            Some(&writer),
            "mutation { requestDataExport { dataExport { id status url } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        requested["requestDataExport"]["dataExport"]["status"],
        "PENDING"
    );
    assert!(requested["requestDataExport"]["dataExport"]["url"].is_null());
    app.drain_jobs().await;
    let exports = app
        .ok(
            Some(&writer),
            "{ viewer { dataExports { id status url expiresAt sizeBytes } } }",
            json!({}),
        )
        .await;
    let export = exports["viewer"]["dataExports"][0].clone();
    assert_eq!(export["status"], "READY", "{exports}");
    let url = export["url"].as_str().unwrap().to_owned();
    let expires: chrono::DateTime<chrono::Utc> =
        export["expiresAt"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days} hours");
    let mail = app
        .emails()
        .into_iter()
        .find(|m| m.to == "writer@example.com" && m.subject.contains("export"))
        .expect("an email with the link");
    assert!(mail.text.contains(&url), "{}", mail.text);
    // Nobody else sees it through node(id:).
    let other = app
        .ok(
            Some(&reader),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": export["id"] }),
        )
        .await;
    assert!(other["node"].is_null());

    let path = url
        .split_once("/exports/")
        .map(|(_, p)| format!("/exports/{p}"))
        .unwrap();
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let archive = response.bytes().await.unwrap().to_vec();
    let files = unzip(&archive);
    for name in [
        "profile.json",
        "comments.json",
        "reactions.json",
        "follows.json",
        "notification_settings.json",
        "images.json",
    ] {
        assert!(files.contains_key(name), "{name} in {:?}", files.keys());
    }
    let profile: Value = serde_json::from_slice(&files["profile.json"]).unwrap();
    assert_eq!(profile["username"], "writer");
    let comments: Value = serde_json::from_slice(&files["comments.json"]).unwrap();
    assert_eq!(
        comments.as_array().unwrap().len(),
        1,
        "only the member's own: {comments}"
    );
    let follows: Value = serde_json::from_slice(&files["follows.json"]).unwrap();
    assert_eq!(follows[0]["name"], "rust");
    assert_eq!(files.keys().filter(|k| k.starts_with("images/")).count(), 1);
    let markdown: Vec<&String> = files
        .keys()
        .filter(|k| k.starts_with("articles/"))
        .collect();
    assert_eq!(markdown.len(), 2, "{markdown:?}");
    let ownership_file = markdown
        .iter()
        .find(|k| k.contains("ownership"))
        .unwrap()
        .to_string();
    let ownership = String::from_utf8(files[&ownership_file].clone()).unwrap();
    assert!(
        ownership.starts_with("---\ntitle: \"Ownership, explained\"\npublished: true\n"),
        "{ownership}"
    );
    assert!(!ownership.contains("stale title"), "{ownership}");
    // A wrong or altered link finds nothing.
    let forged = format!("{}0", &path[..path.len() - 1]);
    assert_eq!(app.get(&forged).await.status(), 404);
    assert_eq!(app.get("/exports/not-an-id/abc").await.status(), 404);

    // Imported into a fresh account on another instance: the same articles.
    let elsewhere = spawn_app().await;
    let newcomer = elsewhere.member("newcomer").await;
    let (status, imported) = elsewhere
        .upload(
            Some(&newcomer),
            IMPORT,
            json!({ "file": null, "publish": true }),
            "file",
            "export.zip",
            archive.clone(),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    let result = &imported["data"]["importArticles"];
    assert_eq!(result["skipped"], json!([]), "{imported}");
    assert_eq!(
        result["articles"].as_array().unwrap().len(),
        2,
        "{imported}"
    );
    let mine = elsewhere.ok(Some(&newcomer), MINE, json!({})).await;
    let live = &mine["viewer"]["live"]["edges"];
    assert_eq!(live.as_array().unwrap().len(), 1, "{mine}");
    let article = &live[0]["node"];
    assert_eq!(article["title"], "Ownership, explained");
    assert_eq!(
        article["canonicalUrl"],
        "https://blog.example.com/ownership"
    );
    assert_eq!(article["publishedAt"], "2024-03-05T10:00:00+00:00");
    assert_eq!(article["tagList"], json!(["rust", "beginners"]));
    let drafts = &mine["viewer"]["drafts"]["edges"];
    assert_eq!(drafts[0]["node"]["title"], "Lifetimes (draft)", "{mine}");
    let body: String = sqlx::query_scalar(
        "SELECT body_markdown FROM articles WHERE title = 'Ownership, explained'",
    )
    .fetch_one(&elsewhere.state.db)
    .await
    .unwrap();
    assert!(
        body.ends_with("Borrowing *rules*: \"quotes\" and a colon: here."),
        "{body}"
    );

    // Importing the same archive again makes nothing twice.
    let (_, twice) = elsewhere
        .upload(
            Some(&newcomer),
            IMPORT,
            json!({ "file": null }),
            "file",
            "export.zip",
            archive.clone(),
        )
        .await;
    assert_eq!(
        twice["data"]["importArticles"]["articles"],
        json!([]),
        "{twice}"
    );
    assert_eq!(
        twice["data"]["importArticles"]["skipped"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A larger archive goes out a slice at a time, whole.
    let big: Vec<u8> = (0..(2 * 1024 * 1024 + 12_345))
        .map(|i: u64| (i * 7919 % 251) as u8)
        .collect();
    sqlx::query(
        "INSERT INTO data_exports (id, user_id, status, archive, size_bytes, ready_at, expires_at)
         SELECT $1, id, 'ready', $2, $3, now(), now() + interval '1 day' FROM users WHERE username = 'writer'",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&big)
    .bind(big.len() as i64)
    .execute(&app.state.db)
    .await
    .unwrap();
    let listed = app
        .ok(
            Some(&writer),
            "{ viewer { dataExports { url sizeBytes } } }",
            json!({}),
        )
        .await;
    let big_url = listed["viewer"]["dataExports"][0]["url"].as_str().unwrap();
    let big_path = big_url
        .split_once("/exports/")
        .map(|(_, p)| format!("/exports/{p}"))
        .unwrap();
    let response = app.get(&big_path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        big.len().to_string().as_str()
    );
    assert!(
        response.bytes().await.unwrap().to_vec() == big,
        "the same bytes"
    );

    // When the link expires the archive is deleted.
    sqlx::query("UPDATE data_exports SET expires_at = now() - interval '1 minute'")
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'expire_data_export'")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
    assert_eq!(
        app.count("SELECT count(*) FROM data_exports WHERE status = 'expired' AND archive IS NULL")
            .await,
        1
    );
    assert_eq!(app.get(&path).await.status(), 404);
    let gone = app
        .ok(
            Some(&writer),
            "{ viewer { dataExports { status url } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        gone["viewer"]["dataExports"][0],
        json!({ "status": "EXPIRED", "url": null })
    );
}

#[tokio::test]
async fn imports_read_forem_exports_and_hostile_archives_stay_bounded() {
    // Exports here may be at most 1 KB: this member's fails with the reason.
    let app = spawn_app_with(Default::default(), |s| s.exports.max_bytes = 1000).await;
    let token = app.member("importer").await;
    // A Forem/dev.to export's articles.json.
    let forem = json!([
        { "title": "From dev.to", "body_markdown": "Hello from **Forem**.", "published": true,
          "published_at": "2023-01-02T03:04:05Z", "cached_tag_list": "webdev, javascript",
          "canonical_url": "https://dev.to/importer/from-dev-to-1abc" },
        { "title": "", "body_markdown": "A title is missing", "published": false },
        { "title": "From dev.to", "body_markdown": "Hello from **Forem**.", "published": true },
    ]);
    let archive = zip_of(&[("articles.json", forem.to_string().as_bytes())]);
    let (_, body) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null, "publish": true }),
            "file",
            "forem.zip",
            archive,
        )
        .await;
    let result = &body["data"]["importArticles"];
    assert_eq!(result["articles"][0]["title"], "From dev.to", "{body}");
    assert_eq!(result["articles"][0]["status"], "PUBLISHED");
    assert_eq!(
        result["articles"][0]["publishedAt"],
        "2023-01-02T03:04:05+00:00"
    );
    assert_eq!(
        result["articles"][0]["canonicalUrl"],
        "https://dev.to/importer/from-dev-to-1abc"
    );
    assert_eq!(result["skipped"][0]["source"], "articles.json[1]", "{body}");
    // The same article twice in one archive is made once.
    assert_eq!(result["skipped"][1]["source"], "articles.json[2]", "{body}");
    assert_eq!(
        result["skipped"][1]["reason"],
        "you already have this article"
    );

    // A bomb: 20 MB of one byte, declared as Markdown, a few hundred KB compressed;
    // and a bogus UTF-8 file. Each is skipped after reading at most its limit.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("bomb.md", options).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..20 {
        zip.write_all(&block).unwrap();
    }
    zip.start_file("binary.md", options).unwrap();
    zip.write_all(&[0xff, 0xfe, 0x00]).unwrap();
    zip.start_file("../../etc/evil.md", options).unwrap();
    zip.write_all(b"---\ntitle: Paths do not matter\n---\nonly the text")
        .unwrap();
    zip.start_file("notes.txt", options).unwrap();
    zip.write_all(b"ignored").unwrap();
    let bomb = zip.finish().unwrap().into_inner();
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let (_, body) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "bomb.zip",
            bomb,
        )
        .await;
    let result = &body["data"]["importArticles"];
    assert_eq!(
        result["articles"][0]["title"], "Paths do not matter",
        "{body}"
    );
    assert_eq!(result["articles"][0]["status"], "DRAFT");
    let reasons: Vec<&str> = result["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("larger than")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("UTF-8")), "{reasons:?}");

    // A hundred thousand empty articles (a few hundred KB) and a title with a NUL: the
    // first 500 are tried, the rest counted without being kept, the NUL one skipped.
    let mut many = String::from("[{\"title\": \"Nul\\u0000title\", \"body_markdown\": \"x\"}");
    for _ in 0..100_000 {
        many.push_str(",{}");
    }
    many.push(']');
    let archive = zip_of(&[("articles.json", many.as_bytes())]);
    let (status, body) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "many.zip",
            archive,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let result = &body["data"]["importArticles"];
    assert_eq!(result["articles"], json!([]));
    let skipped = result["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 501, "500 tried and one line for the rest");
    assert_eq!(
        skipped[0]["reason"],
        "99501 more articles were not read: at most 500 per import"
    );
    assert!(
        skipped[1]["reason"].as_str().unwrap().contains("U+0000"),
        "{}",
        skipped[1]
    );

    // Not a ZIP at all.
    let (_, body) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "x.zip",
            b"PK no".to_vec(),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // Signed out.
    let (_, body) = app
        .upload(
            None,
            IMPORT,
            json!({ "file": null }),
            "file",
            "x.zip",
            zip_of(&[("a.md", b"x")]),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // An export whose build dies (here: a table it reads is gone) ends FAILED, not pending.
    app.ok(
        Some(&token),
        "mutation { requestDataExport { dataExport { id } } }",
        json!({}),
    )
    .await;
    sqlx::query("UPDATE jobs SET max_attempts = 1 WHERE kind = 'build_data_export'")
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE notification_settings RENAME TO notification_settings_away")
        .execute(&app.state.db)
        .await
        .unwrap();
    let outcomes = app.drain_jobs().await;
    assert!(
        outcomes.iter().any(|o| matches!(o, vibecoding::worker::Outcome::Dead { kind, .. } if kind == "build_data_export")),
        "{outcomes:?}"
    );
    sqlx::query("ALTER TABLE notification_settings_away RENAME TO notification_settings")
        .execute(&app.state.db)
        .await
        .unwrap();
    let dead = app
        .ok(
            Some(&token),
            "{ viewer { dataExports { status error } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        dead["viewer"]["dataExports"][0],
        json!({ "status": "FAILED", "error": "it could not be built: ask for a new export" })
    );
    // An export larger than allowed fails, saying why; exports are limited per day.
    app.ok(
        Some(&token),
        "mutation { requestDataExport { dataExport { id } } }",
        json!({}),
    )
    .await;
    app.drain_jobs().await;
    let failed = app
        .ok(
            Some(&token),
            "{ viewer { dataExports { status url error } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        failed["viewer"]["dataExports"][0]["status"], "FAILED",
        "{failed}"
    );
    assert_eq!(
        failed["viewer"]["dataExports"][0]["error"],
        "the export would be larger than 1 KB"
    );
    // The failed ones count too: a failure can cost as much work as a success.
    app.ok(
        Some(&token),
        "mutation { requestDataExport { dataExport { id } } }",
        json!({}),
    )
    .await;
    app.fails(
        Some(&token),
        "mutation { requestDataExport { dataExport { id } } }",
        json!({}),
        "RATE_LIMITED",
    )
    .await;
}

#[tokio::test]
async fn the_security_fields_read_one_statement_each_however_many_rows() {
    let app = crate::helpers::spawn_counting_app().await;
    let token = app.member("counted").await;
    let query = "{ viewer { identities { id provider } twoFactor { enabled recoveryCodesLeft } dataExports { id status url } sessions { id method secondFactor } } }";
    app.ok(Some(&token), query, json!({})).await;
    let before = app.statements();
    app.ok(Some(&token), query, json!({})).await;
    let few = app.statements() - before;
    // More rows of each kind: more sessions and exports.
    for _ in 0..2 {
        app.ok(None, LOGIN, json!({ "login": "counted" })).await;
        app.ok(
            Some(&token),
            "mutation { requestDataExport { dataExport { id } } }",
            json!({}),
        )
        .await;
    }
    app.drain_jobs().await;
    app.ok(Some(&token), query, json!({})).await;
    let before = app.statements();
    let body = app.ok(Some(&token), query, json!({})).await;
    assert_eq!(body["viewer"]["dataExports"].as_array().unwrap().len(), 2);
    assert_eq!(app.statements() - before, few);
    // The viewer, and one statement for each of the four lists.
    assert_eq!(few, 5, "{few} statements");
}

#[tokio::test]
async fn codes_tried_over_many_challenges_lock_the_member_and_a_password_change_ends_challenges() {
    let app = spawn_app().await;
    let token = app.member("targeted").await;
    let totp = enable_two_factor(&app, &token).await;
    let challenge = || async {
        app.ok(None, LOGIN, json!({ "login": "targeted" })).await["login"]["secondFactorChallenge"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Ten codes over three challenges (each locks after five), then the member is locked:
    // a fresh challenge and even the right code are refused for now.
    let mut current = challenge().await;
    for attempt in 1..=10 {
        if attempt % 4 == 0 {
            current = challenge().await;
        }
        app.fails_on(
            None,
            COMPLETE,
            json!({ "input": { "challenge": current, "code": "000000" } }),
            ("BAD_USER_INPUT", "code"),
        )
        .await;
    }
    let fresh = challenge().await;
    let locked = app
        .fails(
            None,
            COMPLETE,
            json!({ "input": { "challenge": fresh, "code": next_code(&totp) } }),
            "RATE_LIMITED",
        )
        .await;
    assert!(message(&locked).contains("Too many codes"), "{locked}");

    // A password change ends the sign-ins waiting for their second factor.
    let other = app.member("changer").await;
    let totp = enable_two_factor(&app, &other).await;
    let pending =
        app.ok(None, LOGIN, json!({ "login": "changer" })).await["login"]["secondFactorChallenge"]
            .as_str()
            .unwrap()
            .to_owned();
    app.ok(
        Some(&other),
        "mutation { changePassword(input: { currentPassword: \"correct horse battery\", newPassword: \"another good passphrase\" }) { clientMutationId } }",
        json!({}),
    )
    .await;
    app.fails(
        None,
        COMPLETE,
        json!({ "input": { "challenge": pending, "code": next_code(&totp) } }),
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn each_imported_article_counts_against_the_article_limits() {
    let app = spawn_app_with(Default::default(), |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.article_create = vibecoding::config::Rule::new(2, 3_600);
        s.rate_limits.article_import = vibecoding::config::Rule::new(2, 3_600);
    })
    .await;
    let token = app.member("prolific").await;
    let files: Vec<(String, Vec<u8>)> = (1..=4)
        .map(|i| {
            (
                format!("post-{i}.md"),
                format!("---\ntitle: Post {i}\n---\nBody {i}").into_bytes(),
            )
        })
        .collect();
    let archive = zip_of(
        &files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect::<Vec<_>>(),
    );
    let (_, body) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "four.zip",
            archive.clone(),
        )
        .await;
    let result = &body["data"]["importArticles"];
    assert_eq!(result["articles"].as_array().unwrap().len(), 2, "{body}");
    let skipped = result["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{body}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("new articles"),
        "{body}"
    );
    // The articles already made cost nothing the second time; the limit still holds.
    let (_, again) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "four.zip",
            archive.clone(),
        )
        .await;
    let reasons: Vec<&str> = again["data"]["importArticles"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("already have"))
            .count(),
        2,
        "{again}"
    );
    // And imports themselves are limited.
    let (_, third) = app
        .upload(
            Some(&token),
            IMPORT,
            json!({ "file": null }),
            "file",
            "four.zip",
            archive,
        )
        .await;
    assert_eq!(code(&third), "RATE_LIMITED", "{third}");
}
