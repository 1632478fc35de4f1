//! Notices when the config file on disk changes, so that an edit takes effect without a signal.
//!
//! The file is read once a second and compared by hash rather than watched with inotify:
//! editors save by writing a new file and renaming it over the old one, and configuration
//! managers swap symlinks, which both leave an inotify watch on the old file. Reading a small
//! file once a second costs nothing and sees every way of changing it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How often the file is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The file's contents as last seen: a hash, or `None` while it cannot be read.
type Fingerprint = Option<[u8; 32]>;

pub struct ConfigFile {
    path: PathBuf,
    /// What the running config was read from.
    loaded: Fingerprint,
    /// A change seen at the last check, not yet known to be finished.
    pending: Option<Fingerprint>,
}

impl ConfigFile {
    pub async fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            loaded: fingerprint(path).await,
            pending: None,
        }
    }

    /// Tells whether the file changed and then stayed the same for a whole check: an editor's burst
    /// of writes, or a half-written file, is read once, when it has settled.
    pub async fn settled_change(&mut self) -> bool {
        let now = fingerprint(&self.path).await;
        if now == self.loaded {
            self.pending = None;
            return false;
        }
        if self.pending == Some(now) {
            self.loaded = now;
            self.pending = None;
            return true;
        }
        self.pending = Some(now);
        false
    }

    /// Takes the file as it is now as read (after a reload by signal).
    pub async fn mark_loaded(&mut self) {
        self.loaded = fingerprint(&self.path).await;
        self.pending = None;
    }
}

async fn fingerprint(path: &Path) -> Fingerprint {
    let bytes = tokio::fs::read(path).await.ok()?;
    Some(Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_counts_once_it_has_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, "a").unwrap();
        let mut file = ConfigFile::new(&path).await;
        assert!(!file.settled_change().await, "nothing changed");
        std::fs::write(&path, "b").unwrap();
        assert!(!file.settled_change().await, "a change is first seen");
        std::fs::write(&path, "bc").unwrap();
        assert!(!file.settled_change().await, "still being written");
        assert!(file.settled_change().await, "settled");
        assert!(!file.settled_change().await, "and read once");
        std::fs::write(&path, "a").unwrap();
        file.mark_loaded().await;
        assert!(!file.settled_change().await, "read by a reload already");
        std::fs::remove_file(&path).unwrap();
        assert!(!file.settled_change().await);
        assert!(
            file.settled_change().await,
            "a deleted file is a change, to refuse"
        );
    }
}
