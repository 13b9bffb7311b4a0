pub mod accounts;
pub mod content;
pub mod imports;
pub mod media;
pub mod moderation;
pub mod payload;
pub mod syndication;
pub mod webhooks;
