use crate::ids::{AuditEntryId, ReportId};
use async_graphql::{Context, Object};

use crate::domain::moderation;
use crate::graphql::context::ContextExt as _;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::moderation::{
    AuditActionValue, AuditEntryNode, ReportNode, ReportStatus,
};

#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Reports in a status (open by default), newest first: moderators and admins.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The status to list; OPEN when left out.")] status: Option<ReportStatus>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ReportNode>> {
        let viewer = ctx.require_viewer()?;
        let page = ctx.page::<ReportId>(PageArgs::new(first, after, last, before))?;
        let status = status.unwrap_or(ReportStatus::Open);
        let rows = moderation::list(&ctx.state().db, viewer, status.into(), &page).await?;
        let db = ctx.state().db.clone();
        let total = Total::later(async move { moderation::count(&db, status.into()).await });
        Ok(page
            .into_connection(rows.into_iter().map(ReportNode).collect(), |r| r.0.id)?
            .counted(total))
    }

    /// Every moderator and automatic action, newest first: admins only.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries of this action; all when left out.")] action: Option<
            AuditActionValue,
        >,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<AuditEntryNode>> {
        let viewer = ctx.require_viewer()?;
        let page = ctx.page::<AuditEntryId>(PageArgs::new(first, after, last, before))?;
        let action = action.map(Into::into);
        let rows = moderation::audit_log(&ctx.state().db, viewer, action, &page).await?;
        let db = ctx.state().db.clone();
        let total = Total::later(async move { moderation::audit_count(&db, action).await });
        Ok(page
            .into_connection(rows.into_iter().map(AuditEntryNode).collect(), |e| e.0.id)?
            .counted(total))
    }
}
