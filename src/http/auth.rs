//! Who is calling: `Authorization: Bearer <session token>`, an `api-key` header, or the
//! session cookie, in that order. A credential that is present but invalid, expired or
//! revoked is refused (401, UNAUTHENTICATED), never treated as anonymous.

use poem::Request;
use poem::http::HeaderMap;

use crate::config::Settings;
use crate::domain::accounts::Viewer;
use crate::domain::accounts::service::{self, ClientInfo};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub enum Credential {
    Bearer(String),
    ApiKey(String),
    Cookie(String),
}

impl Credential {
    pub fn is_cookie(&self) -> bool {
        matches!(self, Self::Cookie(_))
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The credential a request carries, if any.
pub fn credential(headers: &HeaderMap, settings: &Settings) -> AppResult<Option<Credential>> {
    if let Some(value) = headers.get(poem::http::header::AUTHORIZATION) {
        return bearer(value.to_str().unwrap_or("")).map(Some);
    }
    if let Some(value) = headers.get("api-key") {
        let key = value.to_str().unwrap_or("").trim();
        if key.is_empty() {
            return Err(AppError::Unauthenticated(
                "The api-key header is empty".to_owned(),
            ));
        }
        return Ok(Some(Credential::ApiKey(key.to_owned())));
    }
    Ok(cookie_value(headers, &settings.auth.cookie_name).map(Credential::Cookie))
}

/// Reads `Bearer <token>`; anything else is refused.
pub fn bearer(text: &str) -> AppResult<Credential> {
    text.strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Credential::Bearer(t.to_owned()))
        .ok_or_else(|| {
            AppError::Unauthenticated("Authorization must be `Bearer <token>`".to_owned())
        })
}

pub async fn authenticate(state: &AppState, credential: &Credential) -> AppResult<Viewer> {
    match credential {
        Credential::Bearer(token) | Credential::Cookie(token) => {
            service::authenticate_session(&state.db, token).await
        }
        Credential::ApiKey(key) => service::authenticate_api_key(&state.db, key).await,
    }
}

/// The caller's address: the peer, or behind `http.trusted_proxies` proxies the entry
/// they appended to `X-Forwarded-For`.
pub fn client_info(req: &Request, settings: &Settings) -> ClientInfo {
    let hops = settings.http.trusted_proxies;
    let forwarded = (hops > 0)
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|list| {
                    let entries: Vec<&str> = list.split(',').map(str::trim).collect();
                    entries
                        .len()
                        .checked_sub(hops)
                        .and_then(|i| entries.get(i).copied())
                })
                .map(str::to_owned)
        })
        .flatten();
    let ip = forwarded.or_else(|| {
        req.remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
    });
    let user_agent = req
        .headers()
        .get(poem::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(255).collect());
    ClientInfo { ip, user_agent }
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure over https.
pub fn session_cookie(settings: &Settings, token: &str, max_age_secs: i64) -> String {
    let secure = if settings.is_https() { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
        settings.auth.cookie_name
    )
}

pub fn clear_cookie(settings: &Settings) -> String {
    session_cookie(settings, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_over_https() {
        let mut settings = Settings::default();
        let plain = session_cookie(&settings, "t", 60);
        assert_eq!(
            plain,
            "vibecoding_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        settings.app_protocol = "https://".to_owned();
        assert!(session_cookie(&settings, "t", 60).ends_with("; Secure"));
        assert!(clear_cookie(&settings).contains("Max-Age=0"));
    }
}
