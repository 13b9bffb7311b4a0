//! Redacting the edit history.

use async_graphql::{Context, ID, Object};

use crate::domain::moderation;
use crate::graphql::context::ContextExt as _;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node;
use crate::graphql::types::revisions::RevisionNode;

mutation_input! {
    /// A revision whose diff to redact.
    RedactRevisionInput {
        /// The revision's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// A redacted revision.
    RedactRevisionPayload {
        /// The revision, marked redacted; its diff is null to all but moderators.
        revision: Option<RevisionNode>,
    }
}

#[derive(Default)]
pub struct HistoryMutation;

#[Object]
impl HistoryMutation {
    /// Redacts a revision of an article or a comment: the entry stays in the history,
    /// marked redacted, and its diff is shown to moderators and admins only. The article's
    /// authors, or the comment's author.
    async fn redact_revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The revision.")] input: RedactRevisionInput,
    ) -> async_graphql::Result<RedactRevisionPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<RevisionNode>(&input.id)?;
            let (_, revision) = moderation::redact_revision(&ctx.state().db, viewer, id).await?;
            Ok(RedactRevisionPayload {
                revision: Some(RevisionNode(revision)),
                ..Default::default()
            })
        })
        .await
    }
}
