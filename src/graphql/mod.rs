//! The GraphQL schema: root types merged per domain, limits, and the error-code extension.

// A field's GraphQL arguments are its resolver's parameters; connections alone take five.
#![allow(clippy::too_many_arguments)]

pub mod api;
pub mod context;
pub mod extensions;
pub mod guard;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod pagination;
pub mod persisted;
pub mod query;
pub mod subscription;
pub mod types;
pub mod webhook_payload;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::state::AppState;

#[derive(MergedObject, Default)]
/// What can be read: the signed-in member, articles, comments, tags, feeds, search, notifications and moderation queues.
pub struct Query(
    query::health::HealthQuery,
    query::budget::BudgetQuery,
    node::NodeQuery,
    query::accounts::AccountsQuery,
    query::content::ContentQuery,
    query::search::SearchQuery,
    query::feed::FeedQuery,
    query::moderation::ModerationQuery,
);

/// The mutations that reach outside (feeds, webhooks, imports, email), merged on their own so
/// that resolving a mutation walks a short chain of merged objects (each link is a frame on
/// the stack while it runs).
#[derive(MergedObject, Default)]
pub struct OutsideMutation(
    mutation::syndication::SyndicationMutation,
    mutation::webhooks::WebhooksMutation,
    mutation::imports::ImportsMutation,
    mutation::notification_mail::NotificationMailMutation,
);

/// The mutations of a community's structure: organizations and co-authors, the
/// moderators' sanctions and tags, and edit history; and of a member's security and data:
/// the second factor, linked providers, exports and imports.
#[derive(MergedObject, Default)]
pub struct CommunityMutation(
    mutation::organizations::OrganizationsMutation,
    mutation::standing::StandingMutation,
    mutation::history::HistoryMutation,
    mutation::security::SecurityMutation,
);

#[derive(MergedObject, Default)]
/// What can be changed. Signed-in operations take a session cookie, an `Authorization: Bearer` token or an `api-key` header; mutations are never accepted over GET.
pub struct Mutation(
    mutation::accounts::AccountsMutation,
    mutation::content::ContentMutation,
    mutation::media::MediaMutation,
    mutation::moderation::ModerationMutation,
    query::notifications::NotificationsMutation,
    OutsideMutation,
    CommunityMutation,
);

#[derive(MergedSubscription, Default)]
/// Live events over WebSocket (`graphql-transport-ws`), on every node of the deployment.
pub struct Subscription(
    subscription::clock::ClockSubscription,
    subscription::live::LiveSubscription,
    query::notifications::NotificationsSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}

/// The schema the server runs, with the limits from the settings. It has no extensions:
/// run it through [`api::Api`], which guards each request and codes its errors.
pub fn build(state: AppState) -> AppSchema {
    let settings = state.settings.clone();
    build_with(Some(state), &settings, settings.graphql.max_complexity)
}

/// The schema webhook payloads are rendered with: the server's, with a smaller complexity
/// budget (a payload is rendered once per webhook per event, unasked).
pub fn build_for_payloads(state: AppState) -> AppSchema {
    let settings = state.settings.clone();
    build_with(Some(state), &settings, payload_complexity(&settings))
}

/// The payload schema without state, for checking selections: validation only.
pub fn payload_validator(settings: &crate::config::Settings) -> AppSchema {
    build_with(None, settings, payload_complexity(settings))
}

/// The most complexity a webhook's selection may have.
pub fn payload_complexity(settings: &crate::config::Settings) -> usize {
    settings.graphql.max_complexity.min(500)
}

/// The schema with `settings`' limits and `complexity`; with `state` it can run requests.
fn build_with(
    state: Option<AppState>,
    settings: &crate::config::Settings,
    complexity: usize,
) -> AppSchema {
    let limits = &settings.graphql;
    let mut builder = builder();
    if let Some(state) = state {
        pagination::count_default_page(limits.default_page_size);
        let event_loaders =
            std::sync::Arc::new(loaders::EventLoaders::new(&state.db, &state.settings));
        builder = builder.data(state).data(event_loaders);
    }
    builder = builder
        .limit_complexity(complexity)
        .limit_directives(limits.max_directives)
        .limit_recursive_depth(64);
    if !settings.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if !settings.suggestions_enabled() {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL clients build against; `schema.graphql` at the top level holds a copy.
pub fn sdl() -> String {
    builder().finish().sdl()
}
