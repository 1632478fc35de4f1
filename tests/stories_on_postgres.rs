//! The stories suite (`tests/behaviour/stories.rs`) again, every daemon storing in a PostgreSQL
//! database of its own (see `common::Daemon::launch`): one suite, two stores, so that the two
//! cannot drift apart.

mod common;

#[path = "behaviour/stories.rs"]
mod stories;
