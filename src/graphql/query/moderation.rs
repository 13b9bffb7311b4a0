use crate::ids::{AuditEntryId, ReportId};
use async_graphql::{Context, ID, Object};

use crate::domain::moderation;
use crate::graphql::context::ContextExt as _;
use crate::graphql::node;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::graphql::types::accounts::UserNode;
use crate::graphql::types::moderation::{
    AuditActionValue, AuditEntryNode, MemberModeration, ModlogEntry, ReportNode, ReportStatus,
};

#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Reports in a status (open by default), newest first: moderators and admins see
    /// every report; a tag moderator those on articles (and their comments) in their tags.
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
        let viewer = viewer.clone();
        let total =
            Total::later(async move { moderation::count(&db, &viewer, status.into()).await });
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

    /// The public moderation log, newest first: takedowns, hidden and deleted comments,
    /// suspensions and comment bans, locked discussions, tag changes and tag moderator
    /// appointments, with their reasons. Anyone may read it.
    #[graphql(complexity = "crate::graphql::pagination::connection(first, last, child_complexity)")]
    async fn modlog(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items from the start, after `after` (by default 20, and at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor: the page starts after this edge.")] after: Option<String>,
        #[graphql(desc = "Items from the end, before `before` (by default at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "A cursor: the page ends before this edge.")] before: Option<String>,
    ) -> async_graphql::Result<Conn<ModlogEntry>> {
        let page = ctx.page::<AuditEntryId>(PageArgs::new(first, after, last, before))?;
        let rows = moderation::modlog(&ctx.state().db, &page).await?;
        let db = ctx.state().db.clone();
        let total = Total::later(async move { moderation::modlog_count(&db).await });
        Ok(page
            .into_connection(rows.into_iter().map(ModlogEntry).collect(), |e| e.0.id)?
            .counted(total))
    }

    /// What the moderators know of a member (standing, warnings, private notes):
    /// moderators and admins only.
    async fn member_moderation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's global ID.")] id: ID,
    ) -> async_graphql::Result<MemberModeration> {
        ctx.require_viewer()?
            .require_role(crate::domain::accounts::Role::Moderator)?;
        let user = node::decode_as::<UserNode>(&id)?;
        if ctx.loaders().users.load_one(user).await?.is_none() {
            return Err(crate::error::AppError::NotFound("No such member".to_owned()).into());
        }
        Ok(MemberModeration { user })
    }
}
