//! Integration tests: the real server over HTTP and WebSocket, against real Postgres and
//! Redis. One test binary; `helpers::spawn_app` gives each test its own database and Redis
//! key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod accounts;
mod bench;
mod cli;
mod client;
mod credentials;
mod deployment;
mod feeds;
mod fuzz;
mod graphql_http;
mod health;
mod helpers;
mod history;
mod http_layer;
mod imports;
mod jobs;
mod layers;
mod limits;
mod live;
mod moderation;
mod mutations;
mod nodes;
mod notification_mail;
mod notifications;
mod observability;
mod organizations;
mod persisted;
mod process;
mod proxy;
mod publishing;
mod pubsub;
mod reading;
mod schema_rules;
mod search;
mod security;
mod syndication;
mod trusted_moderation;
mod uploads;
mod webhooks;
mod websocket;
