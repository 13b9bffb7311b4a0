//! The rules of the community, apart from any transport: no poem, no async-graphql here.

pub mod accounts;
