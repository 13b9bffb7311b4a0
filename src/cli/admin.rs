//! `admin` and `search`: roles, and the search index.

use super::{AdminCommand, SearchCommand};
use crate::config::Settings;
use crate::db;
use crate::domain::accounts::{Role, service};

/// `admin grant|revoke`: a member's role, from the command line.
pub async fn command(command: AdminCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = db::connect(settings, db::Purpose::Background).await?;
    let (username, role, reason, grant) = match command {
        AdminCommand::Grant {
            username,
            role,
            reason,
        } => (username, role, reason, true),
        AdminCommand::Revoke { username, role } => (username, role, None, false),
    };
    let role = Role::parse(&role).ok_or_else(|| {
        anyhow::anyhow!("unknown role {role:?}: member, trusted, moderator, admin or suspended")
    })?;
    let user = if grant {
        service::grant_role(&db, &username, role, reason.as_deref()).await
    } else {
        service::revoke_role(&db, &username, role).await
    }
    .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    println!("{} is now {}", user.username, user.role);
    Ok(())
}

/// `search rebuild|status`.
pub async fn search(command: SearchCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = db::connect(settings, db::Purpose::Background).await?;
    match command {
        SearchCommand::Rebuild => {
            let generation = crate::domain::search::index::request_rebuild(&db).await?;
            println!(
                "search index generation {generation} requested: every server node rebuilds from Postgres, then switches"
            );
        }
        SearchCommand::Status => {
            let status = crate::domain::search::index::status(&db).await?;
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
    }
    Ok(())
}
