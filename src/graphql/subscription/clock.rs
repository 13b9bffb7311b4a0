use std::time::Duration;

use async_graphql::{Subscription, futures_util::Stream};
use chrono::{DateTime, Utc};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::IntervalStream;

use crate::error::AppError;

pub const MIN_INTERVAL_MS: i32 = 100;
pub const MAX_INTERVAL_MS: i32 = 60_000;

#[derive(Default)]
pub struct ClockSubscription;

#[Subscription]
impl ClockSubscription {
    /// The server's clock, every `intervalMs` milliseconds (100 to 60000), starting now.
    async fn server_time(
        &self,
        #[graphql(default = 1000, desc = "Milliseconds between two ticks, 100 to 60000.")]
        interval_ms: i32,
    ) -> async_graphql::Result<impl Stream<Item = DateTime<Utc>> + use<>> {
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval_ms) {
            return Err(AppError::bad_input(
                "intervalMs",
                format!("intervalMs must be between {MIN_INTERVAL_MS} and {MAX_INTERVAL_MS}"),
            )
            .into());
        }
        let period = Duration::from_millis(u64::try_from(interval_ms).unwrap_or(1000));
        Ok(IntervalStream::new(tokio::time::interval(period)).map(|_| Utc::now()))
    }
}
