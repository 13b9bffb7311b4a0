//! The rules of the community, apart from any transport: no poem, no async-graphql here.
//!
//! Its areas form layers too; each uses only those listed after it (checked by the
//! layering test in `lib.rs`):
//! webhooks, imports, notification_mail, erasure, reactions, moderation, search, feeds, comments, articles, tags,
//! media, follows, blocks, notifications, syndication, accounts, spam, outbox, audit,
//! ranking, markdown, page.

pub mod accounts;
pub mod articles;
pub mod audit;
pub mod blocks;
pub mod comments;
pub mod erasure;
pub mod feeds;
pub mod follows;
pub mod imports;
pub mod markdown;
pub mod media;
pub mod moderation;
pub mod notification_mail;
pub mod notifications;
pub mod organizations;
pub mod outbox;
pub mod page;
pub mod portability;
pub mod ranking;
pub mod reactions;
pub mod revisions;
pub mod search;
pub mod spam;
pub mod standing;
pub mod syndication;
pub mod tags;
pub mod webhooks;
