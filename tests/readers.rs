//! The readers' suite (`tests/behaviour/readers.rs`) on SQLite, the default store.

mod common;

#[path = "behaviour/readers.rs"]
mod readers;
