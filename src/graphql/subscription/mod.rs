pub mod clock;
pub mod live;
