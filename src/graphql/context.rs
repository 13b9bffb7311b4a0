//! What resolvers read from the context: `ctx.state()`, `ctx.viewer()`.

use async_graphql::Context;

use crate::domain::accounts::Viewer;
use crate::domain::accounts::service::ClientInfo;
use crate::error::{AppError, AppResult};
use crate::graphql::loaders::Loaders;
use crate::state::AppState;

/// The member making the request, if signed in. Request (or connection) data.
#[derive(Debug, Clone, Default)]
pub struct Auth(pub Option<Viewer>);

pub trait ContextExt {
    fn state(&self) -> &AppState;
    fn viewer(&self) -> Option<&Viewer>;
    /// The signed-in member, or UNAUTHENTICATED.
    fn require_viewer(&self) -> AppResult<&Viewer>;
    fn client(&self) -> ClientInfo;
    fn loaders(&self) -> &Loaders;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        // The schema is always built with the state (see `graphql::build`); a missing
        // state is a programming error caught by every integration test.
        self.data_unchecked::<AppState>()
    }

    fn viewer(&self) -> Option<&Viewer> {
        self.data_opt::<Auth>().and_then(|a| a.0.as_ref())
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
}
