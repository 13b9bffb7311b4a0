pub mod accounts;
pub mod budget;
pub mod content;
pub mod feed;
pub mod health;
pub mod moderation;
pub mod notifications;
pub mod search;
