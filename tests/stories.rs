//! The stories suite (`tests/behaviour/stories.rs`) on SQLite, the default store.

mod common;

#[path = "behaviour/stories.rs"]
mod stories;
