//! The query budget, as a client sees it (GitHub's `rateLimit`).

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::limits::Budget;

/// Where the caller's query budget stands: every request is charged its computed
/// complexity against a budget per window (per member when signed in, per address
/// otherwise); a request that would overspend it is refused with RATE_LIMITED.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// Complexity points the caller may spend in each window.
    pub limit: i32,
    /// What this request cost: the complexity of its selection (each item of a page costs
    /// what its fields cost; searches and threads cost more).
    pub cost: i32,
    /// Points left in the current window, after this request.
    pub remaining: i32,
    /// When the current window ends and the whole budget is available again.
    pub reset_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct BudgetQuery;

#[Object]
impl BudgetQuery {
    /// The caller's query budget after this request; null when budgets are off on this
    /// instance.
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<RateLimit> {
        let budget = ctx.data_opt::<Budget>()?;
        let points = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        let resets_in = chrono::Duration::seconds(i64::try_from(budget.resets_in).unwrap_or(0));
        Some(RateLimit {
            limit: points(budget.limit),
            cost: points(budget.cost),
            remaining: points(budget.remaining),
            reset_at: Utc::now() + resets_in,
        })
    }
}
