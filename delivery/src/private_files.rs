//! Files and folders of the data directory, readable by their owner only: the
//! database holds every webhook body and destination credential, the data
//! directory the API key.
//!
//! Created with the mode set at creation (no window where another user could open
//! them), and tightened when they already exist with a looser one, so an upgrade
//! from a version that made them world-readable closes them too.

use std::io::Write;
use std::path::Path;

/// `rwx------` for folders.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// `rw-------` for files.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its missing parents) owner-only, or makes an existing one so.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    restrict(dir, true)
}

/// Makes an existing file or folder owner-only; a missing one is left missing.
pub fn restrict(path: &Path, is_dir: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let wanted = if is_dir { DIR_MODE } else { FILE_MODE };
        if meta.permissions().mode() & 0o777 != wanted {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, is_dir);
    Ok(())
}

/// Creates `path` empty and owner-only when it does not exist (SQLite then opens
/// it, and creates its `-wal` and `-shm` files with the same mode), or makes an
/// existing one owner-only.
pub fn create_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts.open(path)?;
    restrict(path, false)
}

/// Writes `contents` to `path` (replacing it), readable by its owner only.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    let mut f = opts.open(path)?;
    restrict(path, false)?;
    f.write_all(contents)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn new_and_loose_existing_files_end_owner_only() {
        let tmp = tempfile::TempDir::new().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let db = dir.join("x.db");
        create_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&dir).unwrap();
        create_file(&db).unwrap();
        assert_eq!((mode(&dir), mode(&db)), (0o700, 0o600));

        let key = dir.join("key");
        std::fs::write(&key, "old").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o664)).unwrap();
        write(&key, b"new").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(std::fs::read_to_string(&key).unwrap(), "new");
    }
}
