pub mod accounts;
pub mod content;
pub mod health;
pub mod search;
