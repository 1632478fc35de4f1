//! The readers' suite (`tests/behaviour/readers.rs`) again, every daemon storing in a
//! PostgreSQL database of its own (see `common::Daemon::launch`): one suite, two stores.

mod common;

#[path = "behaviour/readers.rs"]
mod readers;
