//! The two ends of a run: the input (a file or standard input, with a progress line) and the
//! output (an atomic file, or standard output), and what their failures are called.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tensorjson::codec::aside::Reread;
use tensorjson::codec::io::{AlignedReader, AlignedWriter};
use tensorjson::output::AtomicFile;

use crate::progress::Progress;

const BUFFER: usize = 1 << 20;

/// Standard output is named so in messages.
const STDOUT: &str = "standard output";

/// Standard output, unless it was closed when the run started (`>&-`).
fn standard_output() -> io::Result<io::Stdout> {
    #[cfg(unix)]
    if closed_at_start() {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(io::stdout())
}

/// For a standard output closed at start, the standard library puts /dev/null in its place,
/// opened for reading and writing, where the output would vanish without an error. A shell's
/// `> /dev/null` opens it for writing only.
#[cfg(unix)]
fn closed_at_start() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (Ok(null), Ok(stdout)) = (
        std::fs::metadata("/dev/null"),
        io::stdout().as_fd().try_clone_to_owned(),
    ) else {
        return false;
    };
    let Ok(metadata) = File::from(stdout).metadata() else {
        return false;
    };
    // SAFETY: F_GETFL only reads the flags of a descriptor.
    let flags = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFL) };
    metadata.file_type().is_char_device()
        && metadata.rdev() == null.rdev()
        && flags != -1
        && flags & libc::O_ACCMODE == libc::O_RDWR
}

/// A standard output closed by its reader (`tensorjson ... | head`) is not a failure, and ends the run at
/// once: another thread may be waiting on a slow input, and nobody is left to write for.
/// Standard output has no temporary file to remove.
fn unless_closed<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(error) = &result {
        if error.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
    result
}

/// `-` or nothing means a standard stream.
pub fn named(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|path| path.as_os_str() != "-")
}

pub struct Input {
    pub reader: Box<dyn BufRead + Send>,
    pub name: String,
    pub path: Option<PathBuf>,
    /// How many bytes are left to read, when the input is a regular file (also as
    /// standard input): a `.npy` file's length is then checked before it is read.
    pub size: Option<u64>,
    /// The same input, when it is a regular file, to be read again at offsets.
    pub again: Option<Reread>,
}

pub fn open_input(path: Option<PathBuf>, quiet: bool) -> Result<Input> {
    let Some(path) = named(path) else {
        let (size, again) = regular_stdin().unzip();
        let stdin = AlignedReader::with_capacity(BUFFER, io::stdin());
        let reader = Box::new(Progress::new(stdin, size, quiet));
        let name = "<stdin>".to_string();
        return Ok(Input {
            reader,
            name,
            path: None,
            size,
            again,
        });
    };
    let name = path.display().to_string();
    let file = File::open(&path).with_context(|| format!("{name}: cannot open"))?;
    let metadata = file.metadata().ok();
    let progress_size = metadata.as_ref().map(|metadata| metadata.len());
    let size = metadata
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len());
    let again = size
        .and_then(|_| file.try_clone().ok())
        .map(|file| Reread::new(file, 0));
    let reader = Box::new(Progress::new(
        AlignedReader::with_capacity(BUFFER, file),
        progress_size,
        quiet,
    ));
    Ok(Input {
        reader,
        name,
        path: Some(path),
        size,
        again,
    })
}

/// Standard input redirected from a regular file (`< x.npy`): what is left to read of it,
/// from where its shared offset stands, and the file, to be read again from there.
#[cfg(unix)]
fn regular_stdin() -> Option<(u64, Reread)> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    let mut stdin = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let metadata = stdin.metadata().ok()?;
    let position = stdin.stream_position().ok()?;
    let size = metadata.len().saturating_sub(position);
    metadata
        .is_file()
        .then(|| (size, Reread::new(stdin, position)))
}

#[cfg(not(unix))]
fn regular_stdin() -> Option<(u64, Reread)> {
    None
}

/// Where output goes; a file only appears once the run has succeeded.
pub struct Output {
    sink: Sink,
    /// The output file as given, or [`STDOUT`].
    pub name: String,
    /// The first write that failed: a run that fails after it failed of it, whatever the
    /// codec made of the error.
    failed: Option<io::Error>,
}

enum Sink {
    Stdout(AlignedWriter<io::Stdout>),
    File(AtomicFile),
}

/// An input named on the command line: a file or standard input, and the name given to its
/// item, if any.
pub struct Source {
    pub name: Option<String>,
    pub path: Option<PathBuf>,
}

impl Source {
    /// The name of its item: the one given, else the file's stem, else (standard input) its
    /// position among the inputs.
    pub fn item_name(&self, position: usize) -> String {
        let stem = self.path.as_deref().and_then(Path::file_stem);
        match (&self.name, stem) {
            (Some(name), _) => name.clone(),
            (None, Some(stem)) => stem.to_string_lossy().into_owned(),
            (None, None) => tensorjson::codec::model::position_name(position),
        }
    }
}

/// The inputs as given: `NAME=FILE` names its item, unless a file is called that; standard
/// input (`-`, or no input at all) may be read once.
pub fn sources(arguments: Vec<PathBuf>) -> Result<Vec<Source>> {
    if arguments.is_empty() {
        return Ok(vec![Source {
            name: None,
            path: None,
        }]);
    }
    let sources: Vec<Source> = arguments.into_iter().map(source).collect();
    if sources
        .iter()
        .filter(|source| source.path.is_none())
        .count()
        > 1
    {
        anyhow::bail!(tensorjson::Error::Usage(
            "standard input (-) can be read only once".to_string()
        ));
    }
    Ok(sources)
}

fn source(argument: PathBuf) -> Source {
    let given = argument.to_str().and_then(|text| text.split_once('='));
    match given {
        Some((name, path)) if !name.is_empty() && !argument.exists() => Source {
            name: Some(name.to_string()),
            path: named(Some(PathBuf::from(path))),
        },
        _ => Source {
            name: None,
            path: named(Some(argument)),
        },
    }
}

impl Output {
    pub fn open(path: Option<PathBuf>, inputs: &[&Path]) -> Result<Output> {
        let Some(path) = path else {
            let stdout = standard_output().with_context(|| format!("{STDOUT}: cannot write"))?;
            let sink = Sink::Stdout(AlignedWriter::with_capacity(BUFFER, stdout));
            return Ok(Output::new(sink, STDOUT.to_string()));
        };
        let name = path.display().to_string();
        if inputs.iter().any(|input| is_same_file(input, &path)) {
            anyhow::bail!("{name}: is also the input; write the output to another file");
        }
        let file = AtomicFile::create(&path).with_context(|| format!("{name}: cannot create"))?;
        Ok(Output::new(Sink::File(file), name))
    }

    fn new(sink: Sink, name: String) -> Output {
        Output {
            sink,
            name,
            failed: None,
        }
    }

    /// Ends a run whose writing ended with `written`: the output is complete and renamed into
    /// place, or the run fails, of a failed write if there was one.
    pub fn finish(self, written: Result<()>) -> Result<()> {
        if let Some(error) = self.failed {
            anyhow::bail!("{}: cannot write: {error}", self.name);
        }
        written?;
        let committed = match self.sink {
            Sink::Stdout(mut stdout) => unless_closed(stdout.flush()),
            Sink::File(file) => file.commit().map(drop),
        };
        committed.with_context(|| format!("{}: cannot write", self.name))
    }

    /// Keeps the first error for [`Output::finish`], and passes on a copy.
    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        result.map_err(|error| {
            let copy = io::Error::new(error.kind(), error.to_string());
            if error.kind() != io::ErrorKind::Interrupted {
                self.failed.get_or_insert(error);
            }
            copy
        })
    }
}

fn is_same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = match &mut self.sink {
            Sink::Stdout(stdout) => unless_closed(stdout.write(buf)),
            Sink::File(file) => file.write(buf),
        };
        self.note(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = match &mut self.sink {
            Sink::Stdout(stdout) => unless_closed(stdout.flush()),
            Sink::File(file) => file.flush(),
        };
        self.note(flushed)
    }
}
