use async_graphql::SimpleObject;

use crate::jobs::KindStats;

/// The queue of one kind of job.
#[derive(SimpleObject)]
pub struct JobKindStats {
    pub kind: String,
    pub queued: i64,
    pub running: i64,
    pub scheduled: i64,
    /// Waiting for a retry.
    pub failed: i64,
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
