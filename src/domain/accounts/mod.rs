//! Members, sessions, API keys, email confirmation and password reset, sign-in through
//! outside providers and the second factor.

pub mod identities;
pub mod mailing;
pub mod model;
pub mod passwords;
pub mod recent;
pub mod repo;
pub mod service;
pub mod tokens;
pub mod two_factor;

pub use model::{Role, User, Viewer};
