pub mod accounts;
pub mod content;
