pub mod accounts;
pub mod content;
pub mod imports;
pub mod jobs;
pub mod media;
pub mod moderation;
pub mod notifications;
pub mod webhooks;
