//! `worker` and `jobs`: the job worker, and the queue as operators see it.

use std::sync::Arc;

use super::JobsCommand;
use crate::config::Settings;
use crate::db;
use crate::graphql::webhook_payload::Renderer;
use crate::jobs::queue;
use crate::startup::{Application, shutdown_signal};
use crate::worker::Worker;

/// `worker`: runs jobs until a shutdown signal.
pub async fn worker(settings: Settings) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let state = Application::worker_state(settings, stopped.clone()).await?;
    let ctx = state.job_context();
    tracing::info!(mail = ctx.mailer.transport_name(), "worker starting");
    let signal = shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        stop.send_replace(true);
    });
    let render = Arc::new(Renderer::new(state));
    Worker::new(ctx, render).run(stopped).await
}

/// `jobs ...`: counts, dead jobs, retries.
pub async fn command(command: JobsCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = db::connect(settings, db::Purpose::Background).await?;
    match command {
        JobsCommand::Stats { json } => {
            let stats = queue::stats(&db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!(
                    "{:<24} {:>8} {:>8} {:>10} {:>8} {:>8}",
                    "kind", "queued", "running", "scheduled", "failed", "dead"
                );
                for s in &stats {
                    println!(
                        "{:<24} {:>8} {:>8} {:>10} {:>8} {:>8}",
                        s.kind, s.queued, s.running, s.scheduled, s.failed, s.dead
                    );
                }
                if stats.is_empty() {
                    println!("(no jobs)");
                }
            }
        }
        JobsCommand::Retry { id: Some(id), .. } => {
            if !queue::retry(&db, id).await? {
                anyhow::bail!("no dead or failed job {id}");
            }
            println!("job {id} queued again");
        }
        JobsCommand::Retry { id: None, .. } => {
            let n = queue::retry_dead(&db).await?;
            println!("{n} dead jobs queued again");
        }
        JobsCommand::PurgeDead { older_than_days } => {
            let n = queue::purge_dead(&db, older_than_days).await?;
            println!("{n} dead jobs deleted");
        }
        JobsCommand::Dead { limit } => {
            for job in queue::dead(&db, limit).await? {
                println!(
                    "{}  {:<22} attempts={}  {}",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.last_error.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
