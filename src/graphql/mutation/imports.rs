use async_graphql::{Context, ID, Object};

use crate::domain::imports;
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::imports::{FeedImportMode, FeedSourceNode};
use crate::limits::Action;

mutation_input! {
    /// A feed to import.
    AddFeedSourceInput {
        /// The feed's address (RSS, Atom or JSON Feed): https, on the public internet.
        /// Redirects are not followed: give the final address.
        url: String,
        /// Take each entry's link as the article's canonical URL (true by default).
        #[graphql(default = true)]
        mark_canonical: bool,
        /// What entries become: DRAFT (the default) or PUBLISH.
        #[graphql(default)]
        publish: FeedImportMode,
    }
}

mutation_payload! {
    /// The source added; its first fetch is queued.
    AddFeedSourcePayload {
        /// The source.
        feed_source: Option<FeedSourceNode>,
    }
}

mutation_input! {
    /// One of the viewer's feed sources.
    RemoveFeedSourceInput {
        /// The source's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// A source removed; the articles it made stay.
    RemoveFeedSourcePayload {
        /// The removed source's ID, to drop it from `viewer.feedSources`.
        removed_feed_source_id: Option<ID>,
    }
}

mutation_input! {
    /// One of the viewer's feed sources, to fetch now.
    RefreshFeedSourceInput {
        /// The source's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// The source, its fetch queued.
    RefreshFeedSourcePayload {
        /// The source.
        feed_source: Option<FeedSourceNode>,
    }
}

#[derive(Default)]
pub struct ImportsMutation;

#[Object]
impl ImportsMutation {
    /// Imports a feed: the worker fetches it now and then every hour, and makes each new
    /// entry an article of the viewer's (Markdown from its HTML, up to four tags from its
    /// categories), once per entry and never for a link already canonical for one of
    /// their articles. At most 10 sources per member; PUBLISH needs a confirmed email.
    async fn add_feed_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The feed.")] input: AddFeedSourceInput,
    ) -> async_graphql::Result<AddFeedSourcePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit(ctx, Action::FeedSource, None).await?;
            let state = ctx.state();
            let source = imports::add(
                &state.db,
                &state.settings,
                viewer,
                &input.url,
                input.mark_canonical,
                input.publish == FeedImportMode::Publish,
            )
            .await?;
            Ok(AddFeedSourcePayload {
                feed_source: Some(FeedSourceNode(source)),
                ..Default::default()
            })
        })
        .await
    }

    /// Stops importing a feed; the articles it made stay. NOT_FOUND when there is no such
    /// source of the viewer's.
    async fn remove_feed_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The source to remove.")] input: RemoveFeedSourceInput,
    ) -> async_graphql::Result<RemoveFeedSourcePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<FeedSourceNode>(&input.id)?;
            imports::remove(&ctx.state().db, viewer, id).await?;
            Ok(RemoveFeedSourcePayload {
                removed_feed_source_id: Some(FeedSourceNode::global_id(id)),
                ..Default::default()
            })
        })
        .await
    }

    /// Fetches one of the viewer's feeds now instead of at its next turn.
    async fn refresh_feed_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The source to fetch.")] input: RefreshFeedSourceInput,
    ) -> async_graphql::Result<RefreshFeedSourcePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit(ctx, Action::FeedSource, None).await?;
            let id = node::decode_as::<FeedSourceNode>(&input.id)?;
            let state = ctx.state();
            let interval = state.settings.feed_import.interval_minutes;
            let source = imports::refresh(&state.db, viewer, id, interval).await?;
            Ok(RefreshFeedSourcePayload {
                feed_source: Some(FeedSourceNode(source)),
                ..Default::default()
            })
        })
        .await
    }
}
