//! Output files written atomically: to a temporary file beside the target, renamed into place
//! only once everything has been written, so a failed run leaves nothing behind.

use std::collections::{BTreeSet, HashSet};
use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

use crate::codec::io::{AlignedWriter, BUFFER};
use crate::error::{Error, Result};

/// Temporary files being written, for [`remove_temporaries`] to clean up on a signal, when no
/// destructor runs. Held while a temporary file is created or renamed, so that a signal never
/// falls between the file and its entry here.
static TEMPORARIES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

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
fn temporaries() -> MutexGuard<'static, BTreeSet<PathBuf>> {
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
        paths.remove(&path);
        persisted
    }
}

impl AtomicFile {
    /// Flushes and closes the file without renaming it into place yet: for a directory of
    /// files ([`Directory`]) that all go into place together, with no descriptor held open
    /// for each meanwhile.
    pub fn close(self) -> io::Result<Closed> {
        let destination = self.writer.into_inner()?;
        let temporary = match destination {
            Destination::InPlace(_) => None,
            Destination::Temporary(temporary) => Some(temporary.into_temp_path()),
        };
        Ok(Closed {
            target: self.target,
            temporary,
        })
    }
}

/// A file written and closed, not yet in place; dropped, it is removed.
pub struct Closed {
    target: PathBuf,
    temporary: Option<tempfile::TempPath>,
}

impl Closed {
    pub fn commit(self) -> io::Result<()> {
        let Some(temporary) = self.temporary else {
            return Ok(());
        };
        let mut paths = temporaries();
        let path = temporary.to_path_buf();
        let persisted = temporary.persist(&self.target).map_err(|error| error.error);
        paths.remove(&path);
        persisted
    }
}

/// Longest file name most file systems take, in bytes.
const MAX_FILE_NAME: usize = 255;

/// A directory of output files, named by their items, all renamed into place at the end: a
/// run that fails leaves no new file there (nor the directory, if it made it).
pub struct Directory {
    path: PathBuf,
    created: bool,
    written: Vec<Closed>,
    names: HashSet<String>,
}

impl Directory {
    /// The directory at `path`, made if it is not there (its parent must be).
    pub fn open(path: &Path) -> io::Result<Directory> {
        let created = match std::fs::create_dir(path) {
            Ok(()) => true,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => false,
            Err(error) => return Err(error),
        };
        Ok(Directory {
            path: path.to_path_buf(),
            created,
            written: Vec::new(),
            names: HashSet::new(),
        })
    }

    /// A new file `NAME.EXTENSION` in the directory; a name that would leave it, hide, or
    /// repeat another is refused, before anything is written.
    pub fn create(&mut self, name: &str, extension: &str) -> Result<AtomicFile> {
        let file_name = format!("{name}.{extension}");
        check_file_name(name, &file_name)?;
        if !self.names.insert(file_name.clone()) {
            return Err(Error::Envelope(format!(
                "two items would be written as {file_name:?}: names must differ"
            )));
        }
        let path = self.path.join(&file_name);
        let file = AtomicFile::create(&path).map_err(|error| {
            Error::Envelope(format!("{}: cannot create: {error}", path.display()))
        })?;
        Ok(file)
    }

    /// Keeps a file written in full, to go into place with the others.
    pub fn keep(&mut self, file: AtomicFile) -> io::Result<()> {
        self.written.push(file.close()?);
        Ok(())
    }

    /// Renames every file into place; how many there are.
    pub fn commit(mut self) -> io::Result<usize> {
        let written = std::mem::take(&mut self.written);
        let count = written.len();
        for file in written {
            file.commit()?;
        }
        self.created = false;
        Ok(count)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.written.clear();
        if self.created {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// Refuses an item name that is no plain file name in the directory: empty, with a path
/// separator or NUL, `.` or `..`, starting with `.` (a hidden file, or the way out), or too
/// long for a file system.
fn check_file_name(name: &str, file_name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.contains('/') || name.contains('\\') {
        "it holds a path separator, and would leave the directory"
    } else if name.contains('\0') {
        "it holds a NUL byte"
    } else if name.starts_with('.') {
        "it starts with '.' (a hidden file, or a way out of the directory)"
    } else if file_name.len() > MAX_FILE_NAME {
        "it is longer than a file name may be (255 bytes with its extension)"
    } else {
        return Ok(());
    };
    Err(Error::Envelope(format!(
        "cannot write an item named {name:?} as a file: {why}"
    )))
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
    paths.insert(temporary.path().to_path_buf());
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
