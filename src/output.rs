//! Output files written atomically: to a temporary file beside the target, renamed into place
//! only once everything has been written, so a failed run leaves nothing behind.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

use crate::codec::io::{AlignedWriter, BUFFER};

/// Temporary files being written, for [`remove_temporaries`] to clean up on a signal, when no
/// destructor runs. Held while a temporary file is created or renamed, so that a signal never
/// falls between the file and its entry here.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// How many symbolic links one output path may go through, as Linux allows.
const MAX_LINKS: usize = 40;

/// Removes every temporary file not yet renamed into place, and keeps any more from being
/// created or renamed into place: for a signal handler about to end the process.
pub fn remove_temporaries() {
    let paths = temporaries();
    for path in paths.iter() {
        let _ = std::fs::remove_file(path);
    }
    // Held until the process ends.
    std::mem::forget(paths);
}

/// As [`remove_temporaries`], but never waits: for a run ending where the list may be held
/// by the very thread that ends it (out of memory).
pub fn try_remove_temporaries() {
    if let Ok(paths) = TEMPORARIES.try_lock() {
        for path in paths.iter() {
            let _ = std::fs::remove_file(path);
        }
        std::mem::forget(paths);
    }
}

/// The list even if a thread panicked holding it: a panic leaves it consistent.
fn temporaries() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A file being written; dropped without [`AtomicFile::commit`], it is removed.
pub struct AtomicFile {
    target: PathBuf,
    writer: AlignedWriter<Destination>,
}

/// Where the bytes go until [`AtomicFile::commit`].
enum Destination {
    /// A temporary file beside the target, renamed over it at the end.
    Temporary(NamedTempFile),
    /// A device or FIFO (`-o /dev/null`, a named pipe), written in place: a rename would
    /// replace the device node with a regular file.
    InPlace(File),
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<Self> {
        // Through a symbolic link, the file it points to is written, even one not there yet.
        let target = follow_links(target)?;
        let metadata = std::fs::metadata(&target).ok();
        let destination = match &metadata {
            Some(metadata) if !metadata.is_file() && !metadata.is_dir() => {
                Destination::InPlace(std::fs::OpenOptions::new().write(true).open(&target)?)
            }
            _ => Destination::Temporary(temporary_beside(&target, metadata.as_ref())?),
        };
        Ok(AtomicFile {
            target,
            writer: AlignedWriter::with_capacity(BUFFER, destination),
        })
    }

    /// Flushes and renames the file into place. The rename is atomic against a failed or
    /// killed run; the file is not synced to disk (as `cp` and `base64` do not sync), which
    /// would cost more than the whole encoding.
    pub fn commit(self) -> io::Result<File> {
        let destination = self.writer.into_inner()?;
        let temporary = match destination {
            Destination::InPlace(file) => return Ok(file),
            Destination::Temporary(temporary) => temporary,
        };
        let mut paths = temporaries();
        let path = temporary.path().to_path_buf();
        let persisted = temporary.persist(&self.target).map_err(|error| error.error);
        paths.retain(|kept| *kept != path);
        persisted
    }
}

/// The file `path` names once its symbolic links are followed; it need not exist. Links in
/// the directories above it are left to the system.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let link = match std::fs::read_link(&path) {
            Ok(link) => link,
            // Not a link (EINVAL), or nothing there yet.
            Err(_) => return Ok(path),
        };
        // A relative link is relative to its own directory; joining an absolute one replaces.
        path = path.parent().unwrap_or(Path::new("")).join(link);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

/// A new temporary file in `target`'s directory, with the mode `target` has if it exists
/// (as editors keep it), or else the usual mode for a new file.
fn temporary_beside(target: &Path, existing: Option<&Metadata>) -> io::Result<NamedTempFile> {
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tensorjson-").suffix(".tmp");
    // A temporary file is private (0600); a new output gets 0666 less the umask instead.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut paths = temporaries();
    let temporary = builder
        .tempfile_in(directory)
        .map_err(without_temporary_path)?;
    paths.push(temporary.path().to_path_buf());
    drop(paths);
    if let Some(existing) = existing {
        keep_mode(&temporary, existing)?;
    }
    Ok(temporary)
}

/// Gives the temporary file the permission bits of the file it will replace; set on the open
/// file, so the umask does not narrow them. Owner and set-id bits are not kept.
fn keep_mode(temporary: &NamedTempFile, existing: &Metadata) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = existing.permissions().mode() & 0o777;
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    temporary
        .as_file()
        .set_permissions(existing.permissions())?;
    Ok(())
}

impl Write for Destination {
    // Through the plain file: `NamedTempFile` would add the temporary path to its errors, and
    // the user knows only the target.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::Temporary(file) => file.as_file_mut().write(buf),
            Destination::InPlace(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::Temporary(file) => file.as_file_mut().flush(),
            Destination::InPlace(file) => file.flush(),
        }
    }
}

/// tempfile ends its errors with the random file's path; the user knows only the target,
/// which the caller names.
pub(crate) fn without_temporary_path(error: io::Error) -> io::Error {
    let message = error.to_string();
    match message.rfind(" at path ") {
        Some(end) => io::Error::new(error.kind(), &message[..end]),
        None => error,
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
