use async_graphql::SimpleObject;

use crate::jobs::KindStats;

/// The queue of one kind of job.
#[derive(SimpleObject)]
pub struct JobKindStats {
    /// The job kind, e.g. `send_welcome`.
    pub kind: String,
    /// Due now and never failed.
    pub queued: i64,
    /// Claimed by a worker right now.
    pub running: i64,
    /// Waiting for a future run time, never failed.
    pub scheduled: i64,
    /// Waiting for a retry.
    pub failed: i64,
    /// Failed every attempt; kept for inspection (`vibecoding jobs retry`).
    pub dead: i64,
}

impl From<KindStats> for JobKindStats {
    fn from(s: KindStats) -> Self {
        Self {
            kind: s.kind,
            queued: s.queued,
            running: s.running,
            scheduled: s.scheduled,
            failed: s.failed,
            dead: s.dead,
        }
    }
}
