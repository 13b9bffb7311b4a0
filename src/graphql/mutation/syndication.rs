use async_graphql::{Context, Object};

use crate::graphql::context::ContextExt as _;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};

mutation_input! {
    /// Nothing to fill in but `clientMutationId`: the signed-in member's feed token is
    /// replaced.
    #[derive(Default)]
    CreateFollowingFeedTokenInput {}
}

mutation_payload! {
    /// The private addresses of the member's FOLLOWING feed. Each holds a token that lets
    /// anyone with the address read the feed; it is shown only now, and creating another
    /// ends this one.
    CreateFollowingFeedTokenPayload {
        /// The feed as RSS 2.0.
        rss_url: Option<String>,
        /// The feed as Atom.
        atom_url: Option<String>,
        /// The feed as JSON Feed 1.1.
        json_url: Option<String>,
    }
}

#[derive(Default)]
pub struct SyndicationMutation;

#[Object]
impl SyndicationMutation {
    /// Gives the signed-in member private addresses of their FOLLOWING feed, for feed
    /// readers that cannot sign in. Ends the addresses given before.
    async fn create_following_feed_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")]
        input: CreateFollowingFeedTokenInput,
    ) -> async_graphql::Result<CreateFollowingFeedTokenPayload> {
        respond(ctx, input.client_mutation_id, async {
            let viewer = ctx.require_viewer()?;
            let token = crate::domain::syndication::issue_token(&ctx.state().db, viewer).await?;
            let url =
                |file: &str| Some(ctx.absolute_url(&format!("/feeds/following/{token}/{file}")));
            Ok(CreateFollowingFeedTokenPayload {
                rss_url: url("feed.xml"),
                atom_url: url("feed.atom"),
                json_url: url("feed.json"),
                ..Default::default()
            })
        })
        .await
    }
}
