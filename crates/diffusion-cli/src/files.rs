//! Every file the CLI writes goes through here: written whole or not at all, and output folders
//! checked before any work starts.
//!
//! A write goes to a temporary file in the destination's own folder (so the rename cannot cross
//! file systems), is flushed to the disk (`fsync`), renamed over the destination, and the folder
//! itself is flushed so the rename survives a power cut. A process killed at any point leaves the
//! destination either as it was or as the new bytes, never a mixture; what it can leave behind is a
//! `.{name}.*.partial` file beside it, which the next write of that name removes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (see the module's doc).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    let bytes = bytes.as_ref();
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let (folder, name) = split(path)?;
    remove_partials(&folder, &name);
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    // A temporary file is private (0600); the result gets what `File::create` gives, 0666 less the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(&folder).map_err(fail)?;
    if stall_here(&name) {
        // Fault injection for the crash tests: half the bytes, then wait to be killed.
        file.write_all(&bytes[..bytes.len() / 2]).and_then(|()| file.flush()).map_err(fail)?;
        eprintln!("stalled writing {}", path.display());
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    sync_folder(&folder).map_err(fail)
}

/// Creates `dir` (and its parents) if needed and proves it writable by creating and removing a
/// file in it: run at the start of a command, so a bad `--out` fails before the work.
pub fn writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".write-test.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("cannot write into {}: {e}", dir.display()))
}

/// Checks that `path` can be written: its folder exists (or is created) and is writable, and the
/// path itself is not a folder.
pub fn writable_file(path: &Path) -> Result<(), String> {
    let (folder, _) = split(path)?;
    if path.is_dir() {
        return Err(format!("{} is a folder; give a file name", path.display()));
    }
    writable_dir(&folder)
}

/// Flushes a folder's entries (the renames into it) to the disk; a no-op where folders cannot be
/// opened as files.
fn sync_folder(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(folder)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// The folder a path lies in (`.` for a bare name) and its file name.
fn split(path: &Path) -> Result<(PathBuf, String), String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} does not name a file", path.display()))?
        .to_string();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((folder, name))
}

/// Removes what an earlier, killed write of `name` left in `folder`.
fn remove_partials(folder: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether this write should stall: `DIFFUSION_STALL_WRITE=NAME:N` stalls the N-th write of a file
/// called NAME in this process (a test hook; unset, it costs one environment lookup per write).
fn stall_here(name: &str) -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("DIFFUSION_STALL_WRITE") else { return false };
    let Some((target, n)) = spec.rsplit_once(':') else { return false };
    target == name && n.parse::<usize>().is_ok_and(|n| WRITES.fetch_add(1, Ordering::SeqCst) + 1 == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        write(&path, "one").unwrap();
        write(&path, "two, longer").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two, longer");
        // A partial file an earlier killed write left is cleared by the next write of that name.
        std::fs::write(dir.path().join(".a.csv.x1.partial"), "half").unwrap();
        write(&path, "three").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["a.csv"]);
    }

    /// What `write` leaves is as readable as what `std::fs::write` leaves (not the temporary
    /// file's private 0600).
    #[cfg(unix)]
    #[test]
    fn a_written_file_has_the_usual_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (ours, plain) = (dir.path().join("ours"), dir.path().join("plain"));
        write(&ours, "x").unwrap();
        std::fs::write(&plain, "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ours), mode(&plain));
    }

    #[test]
    fn unwritable_outputs_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        // A folder under a file cannot be created.
        assert!(writable_dir(&file.join("sub")).unwrap_err().contains("cannot create the folder"));
        assert!(writable_file(&file.join("sub/s.csv")).is_err());
        assert!(writable_file(dir.path()).unwrap_err().contains("is a folder"));
        writable_file(&dir.path().join("new/s.csv")).unwrap();
        assert!(dir.path().join("new").is_dir());
    }
}
