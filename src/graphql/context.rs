//! `ctx.state()` for resolvers.

use async_graphql::Context;

use crate::state::AppState;

pub trait ContextExt {
    fn state(&self) -> &AppState;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        // The schema is always built with the state (see `graphql::build`); a missing
        // state is a programming error caught by every integration test.
        self.data_unchecked::<AppState>()
    }
}
