//! Signing in through outside providers, in the browser: `GET /auth/{provider}` sends it to
//! the provider (with `?intent=link`, for the member signed in on it, to link the account),
//! and `GET /auth/{provider}/callback` finishes there. Either way the browser ends at
//! `oauth.return_to`: signed in (the session cookie set), with `#challenge=` when a second
//! factor is due (finish with `completeLogin`; a fragment, so it reaches no server log),
//! `?linked=` after a link, or `?error=` (a stable code: the GraphQL error codes) and
//! `&message=`.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use crate::domain::accounts::Viewer;
use crate::domain::accounts::identities::{self, Callback, Finished, Provider};
use crate::domain::accounts::service::Outcome;
use crate::error::{AppError, AppResult};
use crate::http::auth;
use crate::state::AppState;

/// The cookie that ties a flow to the browser that started it.
pub const STATE_COOKIE: &str = "vibecoding_oauth_state";

#[derive(Deserialize)]
pub struct StartQuery {
    intent: Option<String>,
    /// The grant `linkIdentity` gave, for a link.
    grant: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[handler]
pub async fn start(
    req: &Request,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
    Data(state): Data<&AppState>,
) -> Response {
    match begin(req, &provider, &query, state).await {
        Ok(response) => response,
        Err(e) => failed(state, &e, None),
    }
}

async fn begin(
    req: &Request,
    provider: &str,
    query: &StartQuery,
    state: &AppState,
) -> AppResult<Response> {
    let settings = &state.settings;
    let (provider, config) = Provider::configured(provider, settings)?;
    // Each start stores a flow: `rate_limits.provider_sign_in_per_ip` per address.
    let address = auth::client_info(req, settings)
        .ip
        .unwrap_or_else(|| "unknown".to_owned());
    crate::limits::check(
        &state.cache,
        settings,
        crate::limits::Action::ProviderSignIn,
        &address,
    )
    .await?;
    let link_to = match query.intent.as_deref() {
        None | Some("sign_in") => None,
        Some("link") => {
            let viewer = browser_viewer(req, state).await?.ok_or_else(|| {
                AppError::Unauthenticated("Sign in before linking an account".to_owned())
            })?;
            viewer.require_writer()?;
            identities::take_grant(
                &state.db,
                &viewer,
                provider,
                query.grant.as_deref().unwrap_or(""),
            )
            .await?;
            Some(viewer.user_id)
        }
        Some(_) => {
            return Err(AppError::bad_input(
                "intent",
                "intent is `link` or left out",
            ));
        }
    };
    let started = identities::start(&state.db, settings, provider, config, link_to).await?;
    let max_age = settings.oauth.flow_minutes.max(1) * 60;
    Ok(Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, started.url)
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::SET_COOKIE,
            state_cookie(state, &started.state, max_age),
        )
        .finish())
}

#[handler]
pub async fn callback(
    req: &Request,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    Data(state): Data<&AppState>,
) -> Response {
    let clear = state_cookie(state, "", 0);
    if let Some(error) = query.error.as_deref() {
        // The member said no at the provider (or it failed): nothing to exchange.
        let reason = if error == "access_denied" {
            "denied"
        } else {
            "provider_error"
        };
        return back(
            state,
            &[
                ("error", "UNAUTHENTICATED"),
                (
                    "message",
                    &format!("The sign-in was not approved ({reason})"),
                ),
            ],
            Some(clear),
        );
    }
    match finish(req, &provider, &query, state).await {
        Ok(Finished::SignIn(Outcome::SignedIn(session))) => {
            let max_age = (session.expires_at - chrono::Utc::now())
                .num_seconds()
                .max(0);
            let mut response = back(state, &[], Some(clear));
            response.headers_mut().append(
                header::SET_COOKIE,
                header_value(&state.settings.session_cookie(&session.token, max_age)),
            );
            response
        }
        Ok(Finished::SignIn(Outcome::SecondFactor(challenge))) => {
            // In the fragment: never sent to a server, so no log or Referer holds it.
            back_to(
                state,
                &[],
                Some(&format!("challenge={}", challenge.token)),
                Some(clear),
            )
        }
        Ok(Finished::Linked) => back(state, &[("linked", &provider)], Some(clear)),
        Err(e) => failed(state, &e, Some(clear)),
    }
}

async fn finish(
    req: &Request,
    provider: &str,
    query: &CallbackQuery,
    state: &AppState,
) -> AppResult<Finished> {
    let settings = &state.settings;
    let (provider, config) = Provider::configured(provider, settings)?;
    let (Some(code), Some(flow_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return Err(AppError::bad_input(
            "code",
            "the provider sent no code and state",
        ));
    };
    if code.len() > 512 || flow_state.len() > 512 {
        return Err(AppError::bad_input("code", "the code or state is too long"));
    }
    let cookie_state = auth::cookie_value(req.headers(), STATE_COOKIE);
    // Only a link needs to know who is signed in; a sign-in replaces the session.
    let viewer = browser_viewer(req, state).await.ok().flatten();
    identities::finish(
        &state.db,
        settings,
        provider,
        config,
        Callback {
            code,
            state: flow_state,
            cookie_state: cookie_state.as_deref(),
            viewer: viewer.as_ref(),
        },
        &auth::client_info(req, settings),
    )
    .await
}

/// The member whose session cookie this browser carries.
async fn browser_viewer(req: &Request, state: &AppState) -> AppResult<Option<Viewer>> {
    match auth::cookie_value(req.headers(), &state.settings.auth.cookie_name) {
        Some(token) => auth::authenticate(state, &auth::Credential::Cookie(token))
            .await
            .map(Some),
        None => Ok(None),
    }
}

fn state_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.settings.is_https() {
        "; Secure"
    } else {
        ""
    };
    format!("{STATE_COOKIE}={value}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

fn header_value(text: &str) -> poem::http::HeaderValue {
    poem::http::HeaderValue::from_str(text)
        .unwrap_or_else(|_| poem::http::HeaderValue::from_static(""))
}

/// Back to `oauth.return_to` with the error's code and message (an internal error's cause
/// is logged, never shown).
fn failed(state: &AppState, e: &AppError, cookie: Option<String>) -> Response {
    if let AppError::Internal(cause) = e {
        tracing::error!(error = %cause, "a provider sign-in failed");
    }
    back(
        state,
        &[
            ("error", e.code().as_str()),
            ("message", &e.public_message()),
        ],
        cookie,
    )
}

/// A redirect to `oauth.return_to` with `params` added to its query.
fn back(state: &AppState, params: &[(&str, &str)], cookie: Option<String>) -> Response {
    back_to(state, params, None, cookie)
}

/// [`back`], with `fragment` as the URL's fragment (after any the setting has, so a front
/// end that routes by fragment, `/#/login`, still gets its route).
fn back_to(
    state: &AppState,
    params: &[(&str, &str)],
    fragment: Option<&str>,
    cookie: Option<String>,
) -> Response {
    let settings = &state.settings;
    let return_to = &settings.oauth.return_to;
    let absolute = if return_to.starts_with('/') {
        format!("{}{return_to}", settings.public_origin())
    } else {
        return_to.clone()
    };
    let location = match reqwest::Url::parse(&absolute) {
        Ok(mut url) => {
            if !params.is_empty() {
                let mut pairs = url.query_pairs_mut();
                for (key, value) in params {
                    pairs.append_pair(key, value);
                }
            }
            if let Some(fragment) = fragment {
                let joined = match url.fragment() {
                    Some(route) if !route.is_empty() => {
                        let sep = if route.contains('?') { '&' } else { '?' };
                        format!("{route}{sep}{fragment}")
                    }
                    _ => fragment.to_owned(),
                };
                url.set_fragment(Some(&joined));
            }
            url.to_string()
        }
        Err(_) => "/".to_owned(),
    };
    let mut response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish();
    if let Some(cookie) = cookie {
        response
            .headers_mut()
            .append(header::SET_COOKIE, header_value(&cookie));
    }
    response
}
