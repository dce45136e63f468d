//! Output files written atomically: to a temporary file beside the target, renamed into place
//! only once everything has been written, so a failed run leaves nothing behind.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

/// Temporary files being written, for [`remove_temporaries`] to clean up on Ctrl-C, when no
/// destructor runs.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every temporary file not yet renamed into place. For a signal handler.
pub fn remove_temporaries() {
    if let Ok(paths) = TEMPORARIES.lock() {
        for path in paths.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn forget_temporary(path: &Path) {
    if let Ok(mut paths) = TEMPORARIES.lock() {
        paths.retain(|kept| kept != path);
    }
}

/// A file being written; dropped without [`AtomicFile::commit`], it is removed.
pub struct AtomicFile {
    target: PathBuf,
    writer: BufWriter<Destination>,
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
        let metadata = std::fs::metadata(target);
        if metadata
            .as_ref()
            .is_ok_and(|metadata| !metadata.is_file() && !metadata.is_dir())
        {
            let file = std::fs::OpenOptions::new().write(true).open(target)?;
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                writer: BufWriter::with_capacity(1 << 20, Destination::InPlace(file)),
            });
        }
        // Through a symbolic link, the file it points to is replaced, not the link.
        let target = match metadata {
            Ok(_) => std::fs::canonicalize(target)?,
            Err(_) => target.to_path_buf(),
        };
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".tensorjson-").suffix(".tmp");
        // A temporary file is private (0600); the output should get the usual mode instead.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temporary = builder
            .tempfile_in(directory)
            .map_err(without_temporary_path)?;
        if let Ok(mut paths) = TEMPORARIES.lock() {
            paths.push(temporary.path().to_path_buf());
        }
        Ok(AtomicFile {
            writer: BufWriter::with_capacity(1 << 20, Destination::Temporary(temporary)),
            target,
        })
    }

    /// Flushes and renames the file into place. The rename is atomic against a failed or
    /// killed run; the file is not synced to disk (as `cp` and `base64` do not sync), which
    /// would cost more than the whole encoding.
    pub fn commit(self) -> io::Result<File> {
        let destination = self
            .writer
            .into_inner()
            .map_err(|error| error.into_error())?;
        let temporary = match destination {
            Destination::InPlace(file) => return Ok(file),
            Destination::Temporary(temporary) => temporary,
        };
        let path = temporary.path().to_path_buf();
        let persisted = temporary.persist(&self.target).map_err(|error| error.error);
        forget_temporary(&path);
        persisted
    }
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::Temporary(file) => file.write(buf),
            Destination::InPlace(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::Temporary(file) => file.flush(),
            Destination::InPlace(file) => file.flush(),
        }
    }
}

/// tempfile ends its errors with the random file's path; the user knows only the target,
/// which the caller names.
fn without_temporary_path(error: io::Error) -> io::Error {
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
