use async_graphql::{Context, Object};

use crate::domain::accounts::{Role, repo};
use crate::graphql::context::ContextExt as _;
use crate::graphql::types::accounts::{UserNode, ViewerNode};
use crate::graphql::types::jobs::JobKindStats;
use crate::jobs::queue;

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in member's account; null when signed out.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ViewerNode>> {
        crate::graphql::types::accounts::load_viewer(ctx).await
    }

    /// A member by username (any case).
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's username, any case.")] username: String,
    ) -> async_graphql::Result<Option<UserNode>> {
        if username.len() > 64 {
            return Ok(None);
        }
        Ok(repo::find_by_username(&ctx.state().db, username.trim())
            .await?
            .map(UserNode))
    }

    /// The job queue, per kind (admins only).
    async fn job_stats(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<JobKindStats>> {
        ctx.require_viewer()?.require_role(Role::Admin)?;
        Ok(queue::stats(&ctx.state().db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
