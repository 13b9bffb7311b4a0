//! What resolvers read from the context: `ctx.state()`, `ctx.viewer()`.

use async_graphql::Context;

use crate::domain::accounts::Viewer;
use crate::domain::accounts::service::ClientInfo;
use crate::error::{AppError, AppResult};
use crate::graphql::loaders::Loaders;
use crate::graphql::pagination::{PageArgs, PageRequest};
use crate::state::AppState;

/// The member making the request, if signed in. Request (or connection) data.
#[derive(Debug, Clone, Default)]
pub struct Auth(pub Option<Viewer>);

/// Set when a mutation of the request ended its credential (`logout`, `logoutEverywhere`,
/// `deleteAccount`): the rest of the document runs signed out, so nothing is written in
/// the name of an account that is gone. Request data.
#[derive(Debug, Default)]
pub struct CredentialEnded(std::sync::atomic::AtomicBool);

pub trait ContextExt {
    fn state(&self) -> &AppState;
    fn viewer(&self) -> Option<&Viewer>;
    /// The rest of this request runs signed out (see [`CredentialEnded`]).
    fn end_credential(&self);
    /// The signed-in member, or UNAUTHENTICATED.
    fn require_viewer(&self) -> AppResult<&Viewer>;
    fn client(&self) -> ClientInfo;
    fn loaders(&self) -> &Loaders;
    /// A connection's arguments checked against the configured page sizes.
    fn page<K: serde::de::DeserializeOwned>(&self, args: PageArgs) -> AppResult<PageRequest<K>>;
    /// `path` on this instance's public origin (`APP_PROTOCOL` and `APP_DOMAIN`).
    fn absolute_url(&self, path: &str) -> String {
        format!("{}{path}", self.state().settings.public_origin())
    }
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        // The schema is always built with the state (see `graphql::build`); a missing
        // state is a programming error caught by every integration test.
        self.data_unchecked::<AppState>()
    }

    fn viewer(&self) -> Option<&Viewer> {
        let ended = self
            .data_opt::<CredentialEnded>()
            .is_some_and(|e| e.0.load(std::sync::atomic::Ordering::Acquire));
        if ended {
            return None;
        }
        self.data_opt::<Auth>().and_then(|a| a.0.as_ref())
    }

    fn end_credential(&self) {
        if let Some(ended) = self.data_opt::<CredentialEnded>() {
            ended.0.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    fn require_viewer(&self) -> AppResult<&Viewer> {
        self.viewer()
            .ok_or_else(|| AppError::Unauthenticated("Sign in first".to_owned()))
    }

    fn client(&self) -> ClientInfo {
        self.data_opt::<ClientInfo>().cloned().unwrap_or_default()
    }

    fn loaders(&self) -> &Loaders {
        // Inserted with every request and every WebSocket connection.
        self.data_unchecked::<Loaders>()
    }

    fn page<K: serde::de::DeserializeOwned>(&self, args: PageArgs) -> AppResult<PageRequest<K>> {
        let limits = &self.state().settings.graphql;
        args.parse(limits.default_page_size, limits.max_page_size)
    }
}

/// Counts one `action` by the signed-in member (and, for young accounts, `young` too);
/// RATE_LIMITED with `retryAfter` once a window is full.
pub async fn limit(
    ctx: &Context<'_>,
    action: crate::limits::Action,
    young: Option<crate::limits::Action>,
) -> AppResult<()> {
    let viewer = ctx.require_viewer()?;
    let state = ctx.state();
    crate::limits::check_member(
        &state.cache,
        &state.settings,
        viewer.user_id,
        viewer.member_since,
        action,
        young,
    )
    .await
}

/// Counts one `action` from the caller's address.
pub async fn limit_address(ctx: &Context<'_>, action: crate::limits::Action) -> AppResult<()> {
    let state = ctx.state();
    let address = ctx.client().ip.unwrap_or_else(|| "unknown".to_owned());
    crate::limits::check(&state.cache, &state.settings, action, &address).await
}
