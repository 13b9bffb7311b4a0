//! The rules of the community, apart from any transport: no poem, no async-graphql here.

pub mod accounts;
pub mod articles;
pub mod blocks;
pub mod comments;
pub mod erasure;
pub mod feeds;
pub mod follows;
pub mod markdown;
pub mod media;
pub mod moderation;
pub mod notifications;
pub mod page;
pub mod reactions;
pub mod search;
pub mod tags;
