//! The configuration in force while the daemon runs. A reload replaces it whole, or — when the
//! file on disk is invalid — keeps it and remembers why the file was refused, so that
//! `/status` and `/healthz` can tell the operator their edit did not take.

use crate::sync::Unpoisoned;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Config;

/// Why the file on disk is not the configuration in force.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    /// The error, with the file, line and column.
    pub error: String,
    pub at: DateTime<Utc>,
}

pub struct LiveConfig {
    applied: RwLock<Arc<Config>>,
    refused: RwLock<Option<Refusal>>,
}

impl LiveConfig {
    pub fn new(config: Config) -> Self {
        Self {
            applied: RwLock::new(Arc::new(config)),
            refused: RwLock::new(None),
        }
    }

    /// Returns the configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        Arc::clone(&self.applied.read().unpoisoned())
    }

    /// Puts `config` in force: the file on disk and the daemon agree again.
    pub fn apply(&self, config: Config) {
        *self.applied.write().unpoisoned() = Arc::new(config);
        *self.refused.write().unpoisoned() = None;
    }

    /// Records that the file on disk was refused; the configuration in force stays.
    pub fn refuse(&self, error: String) {
        let refusal = Refusal {
            error,
            at: Utc::now(),
        };
        *self.refused.write().unpoisoned() = Some(refusal);
    }

    /// Tells why the last reload was refused, unless a later one succeeded.
    pub fn refused(&self) -> Option<Refusal> {
        self.refused.read().unpoisoned().clone()
    }
}
