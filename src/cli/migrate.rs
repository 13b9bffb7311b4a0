//! `migrate`: apply, list or revert migrations.

use super::MigrateArgs;
use crate::config::Settings;
use crate::db;

pub async fn command(args: &MigrateArgs, settings: &Settings) -> anyhow::Result<()> {
    let pool = db::connect(settings, db::Purpose::Background).await?;
    if args.status {
        let rows = db::migration_status(&pool).await?;
        println!(
            "{:<16} {:<8} {:<26} description",
            "version", "state", "applied at"
        );
        for m in &rows {
            let state = match (m.applied_at, m.unknown) {
                (_, true) => "unknown",
                (Some(_), false) => "applied",
                (None, false) => "pending",
            };
            let at = m
                .applied_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            println!(
                "{:<16} {:<8} {:<26} {}",
                m.version, state, at, m.description
            );
        }
    } else if let Some(steps) = args.revert {
        let reverted = db::revert(&pool, steps).await?;
        for version in &reverted {
            println!("reverted {version}");
        }
        if reverted.is_empty() {
            println!("nothing to revert");
        }
    } else {
        db::migrate(&pool).await?;
        tracing::info!("migrations applied");
    }
    pool.close().await;
    Ok(())
}
