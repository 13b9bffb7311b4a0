//! Articles: writing, front matter, publication (now or scheduled), series and tags.

pub mod authors;
pub mod front_matter;
pub mod listing;
pub mod model;
pub mod series;
pub mod service;

pub use model::{Article, ArticleStatus};
