pub mod accounts;
pub mod jobs;
