//! Signing in through outside providers: OAuth 2.0's authorization code flow with PKCE
//! (S256), one flow for every provider. A provider is its settings (client, endpoints,
//! scopes) plus [`Provider::profile`], the small mapping from its API to a
//! [`Profile`]; adding GitLab or Google is a variant there, not a copy of the flow.
//!
//! The state and the PKCE verifier stay on the server, for `oauth.flow_minutes`; the state
//! is also set in a cookie of the browser that started the flow, and the callback must
//! bring both (a callback URL sent to someone else signs nobody in). A new account is made
//! from the provider's account only when no member has its email: a member with that email
//! links the provider from their settings while signed in, and is never merged silently.

use chrono::Utc;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
    TokenUrl,
};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::model::Username;
use super::service::{self, ClientInfo, Method, Outcome};
use super::{repo, tokens};
use crate::config::{ProviderSettings, Settings};
use crate::domain::accounts::Viewer;
use crate::domain::outbox::{self, WebhookEvent};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::jobs::{self, Job};

/// The providers this server knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Provider {
    GitHub,
}

impl Provider {
    /// Every provider, configured or not.
    pub const ALL: &[Provider] = &[Provider::GitHub];

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The provider's human name, for messages.
    pub fn title(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
        }
    }

    /// Its settings, when it is configured (has a client id and secret).
    pub fn settings(self, settings: &Settings) -> Option<&ProviderSettings> {
        let provider = match self {
            Self::GitHub => &settings.oauth.github,
        };
        (provider
            .client_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
            && provider.client_secret.is_some())
        .then_some(provider)
    }

    /// A configured provider by name; NOT_FOUND otherwise.
    pub fn configured<'s>(
        name: &str,
        settings: &'s Settings,
    ) -> AppResult<(Self, &'s ProviderSettings)> {
        name.parse::<Self>()
            .ok()
            .and_then(|p| p.settings(settings).map(|s| (p, s)))
            .ok_or_else(|| AppError::NotFound("No such sign-in provider is set up here".to_owned()))
    }

    /// The account behind an access token.
    async fn profile(
        self,
        settings: &Settings,
        http: &reqwest::Client,
        provider: &ProviderSettings,
        token: &str,
    ) -> AppResult<Profile> {
        match self {
            Self::GitHub => github_profile(&settings.outbound, http, provider, token).await,
        }
    }
}

/// An account at a provider, as the sign-in needs it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The provider's stable id for the account.
    pub subject: String,
    pub login: String,
    pub name: String,
    /// The primary email, and whether the provider verified it.
    pub email: Option<(String, bool)>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

async fn github_profile(
    outbound: &crate::config::OutboundSettings,
    http: &reqwest::Client,
    provider: &ProviderSettings,
    token: &str,
) -> AppResult<Profile> {
    let base = provider.api_url.trim_end_matches('/');
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
    };
    let user: GitHubUser = read_json(outbound, get("/user")).await?;
    let emails: Vec<GitHubEmail> = read_json(outbound, get("/user/emails")).await?;
    // The primary address; any verified one when the primary is not.
    let email = emails
        .iter()
        .find(|e| e.primary && e.verified)
        .or_else(|| emails.iter().find(|e| e.verified))
        .or_else(|| emails.iter().find(|e| e.primary))
        .map(|e| (e.email.clone(), e.verified));
    Ok(Profile {
        subject: user.id.to_string(),
        login: user.login,
        name: user.name.unwrap_or_default(),
        email,
    })
}

/// The most of a provider's answer read.
const MAX_ANSWER: usize = 256 * 1024;

async fn read_json<T: serde::de::DeserializeOwned>(
    outbound: &crate::config::OutboundSettings,
    request: reqwest::RequestBuilder,
) -> AppResult<T> {
    let refused = |what: &str| {
        tracing::warn!(
            problem = what,
            "a sign-in provider's API answered unexpectedly"
        );
        AppError::Unauthenticated("The sign-in provider could not be read: try again".to_owned())
    };
    let response = request.send().await.map_err(|_| refused("unreachable"))?;
    if !response.status().is_success() {
        return Err(refused("status"));
    }
    let body = crate::outbound::read_capped(outbound, response, MAX_ANSWER)
        .await
        .map_err(|_| refused("body"))?;
    serde_json::from_slice(&body).map_err(|_| refused("shape"))
}

fn http(settings: &Settings) -> AppResult<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(
            settings.outbound.timeout_secs.max(1),
        ))
        .user_agent(concat!("vibecoding/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(AppError::internal)
}

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn oauth_client(
    settings: &Settings,
    provider: Provider,
    config: &ProviderSettings,
) -> AppResult<OAuthClient> {
    let bad = |what: &str| {
        AppError::internal(anyhow::anyhow!(
            "oauth.{}.{what} is not a URL",
            provider.name()
        ))
    };
    let secret = config
        .client_secret
        .as_ref()
        .map(|s| ClientSecret::new(secrecy::ExposeSecret::expose_secret(s).to_owned()));
    let mut client = BasicClient::new(ClientId::new(config.client_id.clone().unwrap_or_default()))
        .set_auth_uri(AuthUrl::new(config.authorize_url.clone()).map_err(|_| bad("authorize_url"))?)
        .set_token_uri(TokenUrl::new(config.token_url.clone()).map_err(|_| bad("token_url"))?)
        .set_redirect_uri(
            RedirectUrl::new(callback_url(settings, provider)).map_err(|_| bad("callback"))?,
        )
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = secret {
        client = client.set_client_secret(secret);
    }
    Ok(client)
}

/// Where the provider sends the browser back.
pub fn callback_url(settings: &Settings, provider: Provider) -> String {
    format!(
        "{}/auth/{}/callback",
        settings.public_origin(),
        provider.name()
    )
}

/// A flow begun: the provider's URL to send the browser to, and the state to keep in its
/// cookie.
pub struct Started {
    pub url: String,
    pub state: String,
}

/// Begins a sign-in (or, with `link_to`, a signed-in member's linking) with a provider.
pub async fn start(
    db: &PgPool,
    settings: &Settings,
    provider: Provider,
    config: &ProviderSettings,
    link_to: Option<UserId>,
) -> AppResult<Started> {
    let client = oauth_client(settings, provider, config)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM oauth_flows WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO oauth_flows (state_hash, provider, verifier, link_user_id, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tokens::hash(state.secret()))
    .bind(provider.name())
    .bind(verifier.secret())
    .bind(link_to)
    .bind(Utc::now() + chrono::Duration::minutes(settings.oauth.flow_minutes.max(1)))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Started {
        url: url.to_string(),
        state: state.secret().clone(),
    })
}

/// What the callback brings back.
pub struct Callback<'a> {
    pub code: &'a str,
    pub state: &'a str,
    /// The state from the cookie of the browser that started the flow.
    pub cookie_state: Option<&'a str>,
    /// The member signed in on that browser, if any (a link needs them).
    pub viewer: Option<&'a Viewer>,
}

/// How a flow ended.
pub enum Finished {
    /// Signed in (or waiting for the second factor).
    SignIn(Outcome),
    /// The provider's account is now linked to the signed-in member.
    Linked,
}

struct Flow {
    verifier: String,
    link_user_id: Option<UserId>,
}

/// Finishes a flow: checks the state against the cookie and the server's record (used up
/// here), exchanges the code with the verifier, reads the account, and signs in or links.
pub async fn finish(
    db: &PgPool,
    settings: &Settings,
    provider: Provider,
    config: &ProviderSettings,
    callback: Callback<'_>,
    client: &ClientInfo,
) -> AppResult<Finished> {
    let mismatch = || {
        AppError::bad_input(
            "state",
            "this sign-in was not started in this browser, or has expired: start again",
        )
    };
    let Some(cookie_state) = callback.cookie_state else {
        return Err(mismatch());
    };
    if callback.state.is_empty()
        || !tokens::constant_time_eq(cookie_state.as_bytes(), callback.state.as_bytes())
    {
        return Err(mismatch());
    }
    let flow: Option<(String, Option<UserId>)> = sqlx::query_as(
        "DELETE FROM oauth_flows WHERE state_hash = $1 AND provider = $2 AND expires_at > now()
         RETURNING verifier, link_user_id",
    )
    .bind(tokens::hash(callback.state))
    .bind(provider.name())
    .fetch_optional(db)
    .await?;
    let Some((verifier, link_user_id)) = flow else {
        return Err(mismatch());
    };
    let flow = Flow {
        verifier,
        link_user_id,
    };
    let http = http(settings)?;
    let access_token = exchange(settings, provider, config, &http, callback.code, &flow).await?;
    let profile = provider
        .profile(settings, &http, config, &access_token)
        .await?;
    match flow.link_user_id {
        Some(owner) => {
            // Linking is for the member who started it, still signed in on this browser.
            if callback.viewer.map(|v| v.user_id) != Some(owner) {
                return Err(AppError::Forbidden(
                    "Sign in to the account you are linking first".to_owned(),
                ));
            }
            link(db, provider, owner, &profile).await?;
            Ok(Finished::Linked)
        }
        None => Ok(Finished::SignIn(
            sign_in(db, settings, provider, &profile, client).await?,
        )),
    }
}

async fn exchange(
    settings: &Settings,
    provider: Provider,
    config: &ProviderSettings,
    http: &reqwest::Client,
    code: &str,
    flow: &Flow,
) -> AppResult<String> {
    let client = oauth_client(settings, provider, config)?;
    let send = |request: oauth2::HttpRequest| {
        let http = http.clone();
        async move {
            let request = reqwest::Request::try_from(request)?;
            let response = http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            let mut answer = oauth2::HttpResponse::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, reqwest::Error>(answer)
        }
    };
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&send)
        .await
        .map_err(|e| {
            // The provider's reason (a used or expired code) is logged, not the code.
            tracing::info!(provider = provider.name(), error = %e, "a sign-in code was refused");
            AppError::Unauthenticated(format!(
                "{} did not accept this sign-in (the code is invalid, used or expired): start again",
                provider.title()
            ))
        })?;
    Ok(token.access_token().secret().clone())
}

/// Links a provider's account to a member: refused when it is another member's, or the
/// member already has an account at that provider.
async fn link(db: &PgPool, provider: Provider, owner: UserId, profile: &Profile) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let holder: Option<UserId> =
        sqlx::query_scalar("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
            .bind(provider.name())
            .bind(&profile.subject)
            .fetch_optional(&mut *tx)
            .await?;
    match holder {
        Some(holder) if holder == owner => return Ok(()),
        Some(_) => {
            return Err(AppError::bad_input(
                "provider",
                format!("this {} account signs in another member", provider.title()),
            ));
        }
        None => {}
    }
    insert_identity(&mut tx, provider, owner, profile).await?;
    // The member hears of it: a link they did not make is a way into their account.
    jobs::enqueue(
        &mut tx,
        &Job::MailIdentityLinked {
            user_id: owner,
            provider: provider.name().to_owned(),
            login: profile.login.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %owner, provider = provider.name(), "sign-in provider linked");
    Ok(())
}

async fn insert_identity(
    tx: &mut PgConnection,
    provider: Provider,
    owner: UserId,
    profile: &Profile,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO identities (id, user_id, provider, subject, login, email, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())",
    )
    .bind(Uuid::now_v7())
    .bind(owner)
    .bind(provider.name())
    .bind(&profile.subject)
    .bind(&profile.login)
    .bind(profile.email.as_ref().map(|(e, _)| e.as_str()))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn sign_in(
    db: &PgPool,
    settings: &Settings,
    provider: Provider,
    profile: &Profile,
    client: &ClientInfo,
) -> AppResult<Outcome> {
    let mut tx = db.begin().await?;
    let known: Option<(UserId, bool)> = sqlx::query_as(
        "UPDATE identities i SET login = $3, last_used_at = now()
         FROM users u
         WHERE i.provider = $1 AND i.subject = $2 AND u.id = i.user_id AND u.deleted_at IS NULL
         RETURNING u.id, u.totp_secret IS NOT NULL",
    )
    .bind(provider.name())
    .bind(&profile.subject)
    .bind(&profile.login)
    .fetch_optional(&mut *tx)
    .await?;
    let user = match known {
        Some((id, two_factor)) => {
            if two_factor {
                let challenge =
                    super::two_factor::challenge(&mut tx, settings, id, provider.name(), client)
                        .await?;
                tx.commit().await?;
                return Ok(Outcome::SecondFactor(challenge));
            }
            repo::find_by_id(&mut *tx, id).await?.ok_or_else(|| {
                AppError::Unauthenticated("The account no longer exists".to_owned())
            })?
        }
        None => create_account(&mut tx, provider, profile).await?,
    };
    let session = service::open_session(
        &mut tx,
        settings,
        user,
        client,
        Method {
            first: provider.name(),
            second: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::SignedIn(Box::new(session)))
}

/// A new member from a provider's account: its login as the username (adjusted when it is
/// taken or not allowed), and its email, which the provider must have verified (so it is
/// confirmed here too).
async fn create_account(
    tx: &mut PgConnection,
    provider: Provider,
    profile: &Profile,
) -> AppResult<super::User> {
    // Only an address the provider verified: anyone can list someone else's address
    // unverified, and an account made with it would hold that address against its owner.
    let Some((email, true)) = &profile.email else {
        return Err(AppError::bad_input(
            "email",
            format!(
                "{} has no verified email address for this account: verify one there, or register with a password",
                provider.title()
            ),
        ));
    };
    let email = super::model::EmailAddress::parse(email)?;
    if repo::find_by_email(&mut *tx, email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::Forbidden(format!(
            "A member already uses this email: sign in with your password, then link {} in your settings",
            provider.title()
        )));
    }
    let base = username_base(&profile.login);
    let mut chosen = None;
    for attempt in 0..50u32 {
        let candidate = match attempt {
            0 => base.clone(),
            1..20 => format!("{base}_{}", attempt + 1),
            _ => format!("{base}_{:04x}", rand::random::<u16>()),
        };
        let Ok(name) = Username::parse(&candidate) else {
            continue;
        };
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1::citext)
                 OR EXISTS (SELECT 1 FROM organizations WHERE slug = $1::citext)",
        )
        .bind(name.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if !taken {
            chosen = Some(name);
            break;
        }
    }
    let username = chosen
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no free username near {base}")))?;
    let id = UserId::generate();
    // The provider's display name when it passes our rules for names, else the username.
    let display = super::model::parse_name(&profile.name.chars().take(100).collect::<String>())
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| username.as_str().to_owned());
    sqlx::query(
        "INSERT INTO users (id, username, email, name, password_hash, role, email_confirmed_at,
                            github_username)
         VALUES ($1, $2, $3, $4, NULL, 'member', now(), $5)",
    )
    .bind(id)
    .bind(username.as_str())
    .bind(email.as_str())
    .bind(display)
    .bind((provider == Provider::GitHub).then_some(profile.login.as_str()))
    .execute(&mut *tx)
    .await?;
    insert_identity(&mut *tx, provider, id, profile).await?;
    jobs::enqueue(&mut *tx, &Job::SendWelcome { user_id: id }).await?;
    outbox::record(
        &mut *tx,
        WebhookEvent::MemberJoined,
        (outbox::Subject::User, id.into()),
        &[],
        serde_json::json!({}),
    )
    .await?;
    tracing::info!(user_id = %id, provider = provider.name(), "member registered through a provider");
    repo::find_by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new member vanished")))
}

/// A provider's login made into a username: lower case, letters, digits and underscores,
/// 3 to 30 characters.
fn username_base(login: &str) -> String {
    let mut name: String = login
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    while name.len() < 3 {
        name.push('_');
    }
    name
}

/// A member's linked accounts, oldest first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: Uuid,
    pub user_id: UserId,
    pub provider: String,
    pub login: String,
    pub email: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

/// The member's own links among `ids`.
pub async fn find_many(db: &PgPool, user_id: UserId, ids: &[Uuid]) -> AppResult<Vec<Identity>> {
    Ok(sqlx::query_as::<_, Identity>(
        "SELECT id, user_id, provider, login, email::text AS email, created_at, last_used_at
         FROM identities WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

pub async fn identities_of(db: &PgPool, user_id: UserId) -> AppResult<Vec<Identity>> {
    Ok(sqlx::query_as::<_, Identity>(
        "SELECT id, user_id, provider, login, email::text AS email, created_at, last_used_at
         FROM identities WHERE user_id = $1 ORDER BY created_at LIMIT 20",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// Lets a signed-in member link `provider` (their password confirms it is them, not
/// someone holding their session): answers the URL for the browser carrying their session
/// cookie, valid once for `oauth.flow_minutes`.
pub async fn link_url(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    provider: &str,
    password: &secrecy::SecretString,
) -> AppResult<String> {
    viewer.require_writer()?;
    let (provider, _) = Provider::configured(provider, settings)?;
    service::check_password(db, settings, viewer, "password", password).await?;
    let grant = tokens::issue();
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM identity_link_grants WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO identity_link_grants (token_hash, user_id, provider, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&grant.hash)
    .bind(viewer.user_id)
    .bind(provider.name())
    .bind(Utc::now() + chrono::Duration::minutes(settings.oauth.flow_minutes.max(1)))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(format!(
        "{}/auth/{}?intent=link&grant={}",
        settings.public_origin(),
        provider.name(),
        grant.raw
    ))
}

/// Uses up a grant of `linkIdentity` for the member signed in on the browser opening it;
/// FORBIDDEN when it is not theirs, used or expired.
pub async fn take_grant(
    db: &PgPool,
    viewer: &Viewer,
    provider: Provider,
    grant: &str,
) -> AppResult<()> {
    let taken = sqlx::query(
        "DELETE FROM identity_link_grants
         WHERE token_hash = $1 AND user_id = $2 AND provider = $3 AND expires_at > now()",
    )
    .bind(tokens::hash(grant))
    .bind(viewer.user_id)
    .bind(provider.name())
    .execute(db)
    .await?;
    if taken.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "This link is used, expired or not yours: start linking again from your settings"
                .to_owned(),
        ))
    }
}

/// Unlinks a provider's account, unless it is the member's last way to sign in (no
/// password and no other provider).
pub async fn unlink(db: &PgPool, viewer: &Viewer, id: Uuid) -> AppResult<Identity> {
    let mut tx = db.begin().await?;
    let (has_password, linked): (bool, i64) = sqlx::query_as(
        "SELECT password_hash IS NOT NULL,
                (SELECT count(*) FROM identities WHERE user_id = u.id)
         FROM users u WHERE u.id = $1 FOR UPDATE",
    )
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let gone = sqlx::query_as::<_, Identity>(
        "DELETE FROM identities WHERE id = $1 AND user_id = $2
         RETURNING id, user_id, provider, login, email::text AS email, created_at, last_used_at",
    )
    .bind(id)
    .bind(viewer.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such linked account".to_owned()))?;
    if !has_password && linked <= 1 {
        return Err(AppError::input_rule(
            "this is your only way to sign in: set a password first (request a password reset; the reset unlinks providers, so link this one again after it if you want both)",
        ));
    }
    tx.commit().await?;
    Ok(gone)
}
