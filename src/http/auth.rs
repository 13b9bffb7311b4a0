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

/// The member behind a credential: from the credentials checked lately when this one was
/// checked since the last change to any that this node heard of (see
/// [`crate::domain::accounts::recent`]), otherwise from the database.
pub async fn authenticate(state: &AppState, credential: &Credential) -> AppResult<Viewer> {
    let (Credential::Bearer(secret) | Credential::Cookie(secret) | Credential::ApiKey(secret)) =
        credential;
    // Read before the check, so a change announced while it runs makes what it found
    // stale at once.
    let Some(generation) = state.pubsub.credentials_generation() else {
        return authenticate_fresh(state, credential).await;
    };
    let key = crate::domain::accounts::tokens::hash(secret);
    if let Some(viewer) = state.recent_credentials.get(&key, generation) {
        return Ok(viewer);
    }
    let viewer = authenticate_fresh(state, credential).await?;
    state
        .recent_credentials
        .put(key, generation, viewer.clone());
    Ok(viewer)
}

/// The member behind a credential, read from the database now.
pub async fn authenticate_fresh(state: &AppState, credential: &Credential) -> AppResult<Viewer> {
    match credential {
        Credential::Bearer(token) | Credential::Cookie(token) => {
            service::authenticate_session(&state.db, token).await
        }
        Credential::ApiKey(key) => service::authenticate_api_key(&state.db, key).await,
    }
}

/// The caller's address. A connection from a trusted proxy (`http.trusted_proxies`) may
/// name the client: the first address in `X-Forwarded-For`, read from the right, that is
/// not itself a trusted proxy; or, when every hop was one, `CF-Connecting-IP`. From anyone
/// else both headers are ignored, so a client cannot choose its own address.
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    settings: &Settings,
) -> Option<std::net::IpAddr> {
    let proxies = &settings.http.trusted_proxies;
    let peer = peer?;
    if !proxies.contains(peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    if let Some(client) = forwarded.iter().rev().find(|ip| !proxies.contains(**ip)) {
        return Some(*client);
    }
    let cloudflare = headers
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    cloudflare.or(forwarded.first().copied()).or(Some(peer))
}

pub fn client_info(req: &Request, settings: &Settings) -> ClientInfo {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let ip = client_address(peer, req.headers(), settings).map(|ip| ip.to_string());
    let user_agent = req
        .headers()
        .get(poem::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(255).collect());
    ClientInfo { ip, user_agent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                poem::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let mut settings = Settings::default();
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        let spoof = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("cf-connecting-ip", "5.6.7.8"),
        ]);
        // Nobody is trusted: the peer is the client, whatever it claims.
        assert_eq!(
            client_address(ip("9.9.9.9"), &spoof, &settings),
            ip("9.9.9.9")
        );
        settings.http.trusted_proxies =
            crate::config::TrustedProxies::parse("private, cloudflare").unwrap();
        // A direct connection from the internet still cannot choose its address.
        assert_eq!(
            client_address(ip("9.9.9.9"), &spoof, &settings),
            ip("9.9.9.9")
        );
        // Cloudflare, then the platform's router: the entry before Cloudflare's edge.
        let through = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 104.16.0.5")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &through, &settings),
            ip("203.0.113.7")
        );
        // Around Cloudflare, straight to the router: the attacker's own address, not its claim.
        let around = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.9"),
            ("cf-connecting-ip", "5.6.7.8"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &around, &settings),
            ip("198.51.100.9")
        );
        // Every hop trusted (Cloudflare connecting directly): its CF-Connecting-IP.
        let direct = headers(&[("cf-connecting-ip", "203.0.113.8")]);
        assert_eq!(
            client_address(ip("104.16.0.5"), &direct, &settings),
            ip("203.0.113.8")
        );
    }
}
