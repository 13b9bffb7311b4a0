//! Organizations: members who publish together. Roles: OWNER (everything, and the only
//! ones to invite, change roles, remove members and edit the profile), EDITOR (publishes
//! and edits the organization's articles, and answers the review queue), MEMBER (writes
//! drafts for it and submits them for review). The last owner cannot leave or be removed.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::accounts::Viewer;
use crate::domain::accounts::model::{Username, bounded_text, parse_http_url};
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{InvitationId, OrganizationId, UserId};

pub const MAX_NAME: usize = 60;
pub const MAX_DESCRIPTION: usize = 500;
/// The most members one read lists.
pub const MAX_MEMBERS: i64 = 500;

/// What a member may do in an organization; ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRole {
    Member,
    Editor,
    Owner,
}

crate::text_enum!(OrgRole {
    Member = "member",
    Editor = "editor",
    Owner = "owner",
});

pub const COLUMNS: &str = "id, slug::text AS slug, name, description, url, avatar_url, members_count, \
     followers_count, articles_count, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organization {
    pub id: OrganizationId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub url: Option<String>,
    pub avatar_url: Option<String>,
    pub members_count: i32,
    pub followers_count: i32,
    pub articles_count: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub role: OrgRole,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub role: OrgRole,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

const INVITATION_COLUMNS: &str = "id, organization_id, user_id, role, invited_by, created_at";

/// What an organization's profile says; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Profile {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some("")` clears it.
    pub url: Option<String>,
    /// An uploaded image's URL, already checked to be the viewer's.
    pub avatar_url: Option<Option<String>>,
}

fn parse_slug(raw: &str) -> AppResult<String> {
    Username::parse(raw).map(|u| u.as_str().to_owned()).map_err(|_| {
        AppError::bad_input(
            "slug",
            "slug must be 3 to 30 lowercase letters, digits or underscores, and not a reserved name",
        )
    })
}

fn parse_name(raw: &str) -> AppResult<String> {
    let name = bounded_text("name", raw, MAX_NAME)?;
    if name.is_empty() {
        return Err(AppError::invalid(
            "name",
            Problem::Blank,
            "name is required",
        ));
    }
    Ok(name)
}

fn parse_url(raw: &str) -> AppResult<Option<String>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    parse_http_url("url", raw, 2_000).map(Some)
}

pub async fn by_ids(db: &PgPool, ids: &[OrganizationId]) -> AppResult<Vec<Organization>> {
    Ok(
        sqlx::query_as::<_, Organization>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM organizations WHERE id = ANY($1)"
        )))
        .bind(ids)
        .fetch_all(db)
        .await?,
    )
}

pub async fn by_slug(db: &PgPool, slug: &str) -> AppResult<Option<Organization>> {
    Ok(
        sqlx::query_as::<_, Organization>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM organizations WHERE slug = $1::citext"
        )))
        .bind(slug.trim())
        .fetch_optional(db)
        .await?,
    )
}

/// `user`'s role in `org`, if they are a member.
pub async fn role_of(
    conn: &mut PgConnection,
    org: OrganizationId,
    user: UserId,
) -> AppResult<Option<OrgRole>> {
    Ok(sqlx::query_scalar(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org)
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

/// `viewer`'s role in each of `orgs` (those they belong to), in one query.
pub async fn roles_of(
    db: &PgPool,
    user: UserId,
    orgs: &[OrganizationId],
) -> AppResult<Vec<(OrganizationId, OrgRole)>> {
    Ok(sqlx::query_as(
        "SELECT organization_id, role FROM organization_members WHERE user_id = $1 AND organization_id = ANY($2)",
    )
    .bind(user)
    .bind(orgs)
    .fetch_all(db)
    .await?)
}

/// FORBIDDEN unless `viewer` holds at least `role` in `org` (NOT_FOUND without the org).
pub async fn require_role(
    conn: &mut PgConnection,
    viewer: &Viewer,
    org: OrganizationId,
    role: OrgRole,
) -> AppResult<OrgRole> {
    viewer.require_writer()?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)")
            .bind(org)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        return Err(AppError::NotFound("No such organization".to_owned()));
    }
    match role_of(conn, org, viewer.user_id).await? {
        Some(held) if held >= role => Ok(held),
        _ => Err(AppError::Forbidden(format!(
            "This needs the {} role in the organization",
            role.as_str()
        ))),
    }
}

/// A member founds an organization and is its first owner.
pub async fn create(
    db: &PgPool,
    viewer: &Viewer,
    slug: &str,
    name: &str,
    profile: Profile,
) -> AppResult<Organization> {
    viewer.require_writer()?;
    let (slug, name, description, url) = (
        parse_slug(slug),
        parse_name(name),
        profile
            .description
            .as_deref()
            .map(|d| bounded_text("description", d, MAX_DESCRIPTION))
            .transpose(),
        profile.url.as_deref().map(parse_url).transpose(),
    )
        .all_valid()?;
    let mut tx = db.begin().await?;
    let org = sqlx::query_as::<_, Organization>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO organizations (id, slug, name, description, url, avatar_url, members_count)
         VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING {COLUMNS}"
    )))
    .bind(OrganizationId::generate())
    .bind(&slug)
    .bind(&name)
    .bind(description.unwrap_or_default())
    .bind(url.flatten())
    .bind(profile.avatar_url.flatten())
    .fetch_one(&mut *tx)
    .await
    .map_err(slug_taken)?;
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
    )
    .bind(org.id)
    .bind(viewer.user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// A name taken by a member or another organization is an error on `slug`.
fn slug_taken(e: sqlx::Error) -> AppError {
    match &e {
        sqlx::Error::Database(db)
            if matches!(
                db.constraint(),
                Some("profile_name_taken" | "organizations_slug_key")
            ) =>
        {
            AppError::invalid(
                "slug",
                Problem::Taken,
                "this name is already taken by a member or an organization",
            )
        }
        _ => e.into(),
    }
}

/// An owner edits the organization's profile.
pub async fn update(
    db: &PgPool,
    viewer: &Viewer,
    org: OrganizationId,
    profile: Profile,
) -> AppResult<Organization> {
    let mut tx = db.begin().await?;
    require_role(&mut tx, viewer, org, OrgRole::Owner).await?;
    let (name, description, url) = (
        profile.name.as_deref().map(parse_name).transpose(),
        profile
            .description
            .as_deref()
            .map(|d| bounded_text("description", d, MAX_DESCRIPTION))
            .transpose(),
        profile.url.as_deref().map(parse_url).transpose(),
    )
        .all_valid()?;
    let org = sqlx::query_as::<_, Organization>(sqlx::AssertSqlSafe(format!(
        "UPDATE organizations SET name = COALESCE($2, name), description = COALESCE($3, description),
                url = CASE WHEN $4 THEN $5 ELSE url END,
                avatar_url = CASE WHEN $6 THEN $7 ELSE avatar_url END
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(org)
    .bind(name)
    .bind(description)
    .bind(url.is_some())
    .bind(url.flatten())
    .bind(profile.avatar_url.is_some())
    .bind(profile.avatar_url.flatten())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// An owner invites a member by username, to join with `role`.
pub async fn invite(
    db: &PgPool,
    viewer: &Viewer,
    org: OrganizationId,
    username: &str,
    role: OrgRole,
) -> AppResult<Invitation> {
    let mut tx = db.begin().await?;
    require_role(&mut tx, viewer, org, OrgRole::Owner).await?;
    let invitee: UserId = sqlx::query_scalar(
        "SELECT id FROM users WHERE username = $1::citext AND deleted_at IS NULL",
    )
    .bind(username.trim().trim_start_matches('@'))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("No member named {username}")))?;
    if role_of(&mut tx, org, invitee).await?.is_some() {
        return Err(AppError::bad_input(
            "username",
            "this member already belongs to the organization",
        ));
    }
    let invitation = sqlx::query_as::<_, Invitation>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO organization_invitations (id, organization_id, user_id, role, invited_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by
         RETURNING {INVITATION_COLUMNS}"
    )))
    .bind(InvitationId::generate())
    .bind(org)
    .bind(invitee)
    .bind(role)
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(invitation)
}

/// The invitee accepts (joining with the invited role) or declines an invitation.
pub async fn respond(
    db: &PgPool,
    viewer: &Viewer,
    invitation: InvitationId,
    accept: bool,
) -> AppResult<Invitation> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let invitation = sqlx::query_as::<_, Invitation>(sqlx::AssertSqlSafe(format!(
        "DELETE FROM organization_invitations WHERE id = $1 AND user_id = $2 RETURNING {INVITATION_COLUMNS}"
    )))
    .bind(invitation)
    .bind(viewer.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such invitation".to_owned()))?;
    if accept {
        let joined = sqlx::query(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(invitation.organization_id)
        .bind(viewer.user_id)
        .bind(invitation.role)
        .execute(&mut *tx)
        .await?;
        if joined.rows_affected() > 0 {
            count_members(&mut tx, invitation.organization_id, 1).await?;
        }
    }
    tx.commit().await?;
    Ok(invitation)
}

async fn count_members(conn: &mut PgConnection, org: OrganizationId, delta: i32) -> AppResult<()> {
    sqlx::query("UPDATE organizations SET members_count = members_count + $2 WHERE id = $1")
        .bind(org)
        .bind(delta)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks the organization's owners and refuses a change that would leave it without one.
async fn keep_an_owner(
    conn: &mut PgConnection,
    org: OrganizationId,
    losing: UserId,
) -> AppResult<()> {
    let owners: Vec<UserId> = sqlx::query_scalar(
        "SELECT user_id FROM organization_members WHERE organization_id = $1 AND role = 'owner' FOR UPDATE",
    )
    .bind(org)
    .fetch_all(conn)
    .await?;
    if owners == [losing] {
        return Err(AppError::bad_input(
            "userId",
            "an organization keeps at least one owner: make someone else an owner first",
        ));
    }
    Ok(())
}

/// An owner changes a member's role.
pub async fn set_role(
    db: &PgPool,
    viewer: &Viewer,
    org: OrganizationId,
    member: UserId,
    role: OrgRole,
) -> AppResult<Membership> {
    let mut tx = db.begin().await?;
    require_role(&mut tx, viewer, org, OrgRole::Owner).await?;
    let held = role_of(&mut tx, org, member)
        .await?
        .ok_or_else(|| AppError::NotFound("No such member of the organization".to_owned()))?;
    if held == OrgRole::Owner && role != OrgRole::Owner {
        keep_an_owner(&mut tx, org, member).await?;
    }
    let membership = sqlx::query_as::<_, Membership>(
        "UPDATE organization_members SET role = $3 WHERE organization_id = $1 AND user_id = $2
         RETURNING organization_id, user_id, role, created_at",
    )
    .bind(org)
    .bind(member)
    .bind(role)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(membership)
}

/// A member leaves (`member` is the viewer), or an owner removes a member. The
/// organization's articles stay with it (their authors may still move a draft out).
pub async fn remove(
    db: &PgPool,
    viewer: &Viewer,
    org: OrganizationId,
    member: UserId,
) -> AppResult<()> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    if member != viewer.user_id {
        require_role(&mut tx, viewer, org, OrgRole::Owner).await?;
    }
    let held = role_of(&mut tx, org, member)
        .await?
        .ok_or_else(|| AppError::NotFound("No such member of the organization".to_owned()))?;
    if held == OrgRole::Owner {
        keep_an_owner(&mut tx, org, member).await?;
    }
    let removed =
        sqlx::query("DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2")
            .bind(org)
            .bind(member)
            .execute(&mut *tx)
            .await?;
    // Counted once, whoever else removed them at the same moment.
    if removed.rows_affected() > 0 {
        count_members(&mut tx, org, -1).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The members of each organization, owners first, then by joining (at most
/// [`MAX_MEMBERS`] each), in one statement.
pub async fn members_of(db: &PgPool, orgs: &[OrganizationId]) -> AppResult<Vec<Membership>> {
    Ok(sqlx::query_as::<_, Membership>(
        "SELECT m.* FROM unnest($1::uuid[]) AS o(id) CROSS JOIN LATERAL (
            SELECT m.organization_id, m.user_id, m.role, m.created_at FROM organization_members m
            JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
            WHERE m.organization_id = o.id
            ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, m.created_at
            LIMIT $2) m",
    )
    .bind(orgs)
    .bind(MAX_MEMBERS)
    .fetch_all(db)
    .await?)
}

/// The organizations `user` belongs to, with their role, earliest joined first.
pub async fn memberships_of(db: &PgPool, user: UserId) -> AppResult<Vec<Membership>> {
    Ok(sqlx::query_as::<_, Membership>(
        "SELECT organization_id, user_id, role, created_at FROM organization_members
         WHERE user_id = $1 ORDER BY created_at LIMIT $2",
    )
    .bind(user)
    .bind(MAX_MEMBERS)
    .fetch_all(db)
    .await?)
}

/// Invitations waiting for `user`, newest first.
pub async fn invitations_of(db: &PgPool, user: UserId) -> AppResult<Vec<Invitation>> {
    Ok(sqlx::query_as::<_, Invitation>(sqlx::AssertSqlSafe(format!(
        "SELECT {INVITATION_COLUMNS} FROM organization_invitations
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(user)
    .bind(MAX_MEMBERS)
    .fetch_all(db)
    .await?)
}

/// The pending invitations of each organization, newest first (at most [`MAX_MEMBERS`]
/// each), in one statement.
pub async fn invitations_to(db: &PgPool, orgs: &[OrganizationId]) -> AppResult<Vec<Invitation>> {
    Ok(sqlx::query_as::<_, Invitation>(sqlx::AssertSqlSafe(format!(
        "SELECT i.* FROM unnest($1::uuid[]) AS o(id) CROSS JOIN LATERAL (
            SELECT {INVITATION_COLUMNS} FROM organization_invitations
            WHERE organization_id = o.id ORDER BY id DESC LIMIT $2) i"
    )))
    .bind(orgs)
    .bind(MAX_MEMBERS)
    .fetch_all(db)
    .await?)
}

pub async fn invitation(db: &PgPool, id: InvitationId) -> AppResult<Option<Invitation>> {
    Ok(sqlx::query_as::<_, Invitation>(sqlx::AssertSqlSafe(format!(
        "SELECT {INVITATION_COLUMNS} FROM organization_invitations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?)
}
