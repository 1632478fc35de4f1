//! Writing the config file (`tributary import-opml`): a new version replaces the old one
//! whole, by rename, so that a running daemon, which reloads the file when it changes, reads
//! the whole new file, never half of it.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The config file could not be replaced; the old one is as it was.
#[derive(Debug, thiserror::Error)]
#[error("cannot replace {}: {source}", path.display())]
pub struct ReplaceError {
    path: PathBuf,
    source: std::io::Error,
}

/// How the replacement went.
pub struct Replaced {
    /// Why the new file has this user's owner and group rather than the old file's, if it has.
    pub owner_not_kept: Option<std::io::Error>,
}

/// Replaces the file at `path` with `text`. The new file keeps the old one's permissions and,
/// where this user may, its owner and group (a config may be readable by the service's group
/// only), and it is on disk before it takes the old one's name, so that a crash leaves one or
/// the other, never an empty file.
pub fn replace_file(path: &Path, text: &str) -> Result<Replaced, ReplaceError> {
    let failed = |source| ReplaceError {
        path: path.to_owned(),
        source,
    };
    let old = std::fs::metadata(path).map_err(failed)?;
    let staged = path.with_extension("toml.new");
    let mut owner_not_kept = None;
    let mut write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&staged)?;
        file.set_permissions(old.permissions())?;
        owner_not_kept = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid())).err();
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&staged, path)?;
        // The rename itself is durable once the folder is.
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        std::fs::File::open(folder.unwrap_or(Path::new(".")))?.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&staged);
        return Err(failed(e));
    }
    Ok(Replaced { owner_not_kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_with_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace_file(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert!(!path.with_extension("toml.new").exists());
        let missing = replace_file(&dir.path().join("none.toml"), "x")
            .err()
            .unwrap();
        assert!(
            missing.to_string().starts_with("cannot replace "),
            "{missing}"
        );
    }
}
