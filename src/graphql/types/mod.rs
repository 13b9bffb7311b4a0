pub mod accounts;
pub mod content;
pub mod jobs;
pub mod notifications;
