//! Members, sessions, API keys, email confirmation and password reset.

pub mod mailing;
pub mod model;
pub mod passwords;
pub mod recent;
pub mod repo;
pub mod service;
pub mod tokens;

pub use model::{Role, User, Viewer};
