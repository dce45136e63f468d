//! The `tensorjson` binary: parse arguments, open input and output, run the codec, map errors
//! to exit statuses (0 success, 1 bad input or I/O failure, 2 bad usage).

mod cli;
#[cfg(unix)]
mod oom;
mod progress;
#[cfg(unix)]
mod signals;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use tensorjson::codec::dialect::{ReadOptions, WriteOptions};
use tensorjson::codec::{self, Format};
use tensorjson::output::AtomicFile;

use crate::cli::{Cli, Command, DecodeArgs, EncodeArgs};
use crate::progress::Progress;

const BUFFER: usize = 1 << 20;

/// Standard output is named so in messages.
const STDOUT: &str = "standard output";

#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: oom::Reporting = oom::Reporting;

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    {
        signals::clean_up_on_ending_signals();
        signals::write_errors_past_file_size_limit();
    }
    let result = match cli.command {
        Command::Encode(args) => encode(args, cli.quiet),
        Command::Decode(args) => decode(args, cli.quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

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
fn named(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|path| path.as_os_str() != "-")
}

struct Input {
    reader: Box<dyn BufRead + Send>,
    name: String,
    path: Option<PathBuf>,
}

fn open_input(path: Option<PathBuf>, quiet: bool) -> Result<Input> {
    let Some(path) = named(path) else {
        let stdin = BufReader::with_capacity(BUFFER, io::stdin());
        let reader = Box::new(Progress::new(stdin, None, quiet));
        let name = "<stdin>".to_string();
        return Ok(Input {
            reader,
            name,
            path: None,
        });
    };
    let name = path.display().to_string();
    let file = File::open(&path).with_context(|| format!("{name}: cannot open"))?;
    let size = file.metadata().ok().map(|metadata| metadata.len());
    let reader = Box::new(Progress::new(
        BufReader::with_capacity(BUFFER, file),
        size,
        quiet,
    ));
    Ok(Input {
        reader,
        name,
        path: Some(path),
    })
}

/// Where output goes; a file only appears once the run has succeeded.
struct Output {
    sink: Sink,
    /// The output file as given, or [`STDOUT`].
    name: String,
    /// The first write that failed: a run that fails after it failed of it, whatever the
    /// codec made of the error.
    failed: Option<io::Error>,
}

enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File(AtomicFile),
}

impl Output {
    fn open(path: Option<PathBuf>, input: &Input) -> Result<Output> {
        let Some(path) = path else {
            let stdout = standard_output().with_context(|| format!("{STDOUT}: cannot write"))?;
            let sink = Sink::Stdout(BufWriter::with_capacity(BUFFER, stdout));
            return Ok(Output::new(sink, STDOUT.to_string()));
        };
        let name = path.display().to_string();
        if let Some(input_path) = &input.path {
            if is_same_file(input_path, &path) {
                anyhow::bail!("{name}: is also the input; write the output to another file");
            }
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
    fn finish(self, written: Result<()>) -> Result<()> {
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

fn encode(args: EncodeArgs, quiet: bool) -> Result<()> {
    let input = open_input(args.input, quiet)?;
    let mut output = Output::open(named(args.output), &input)?;
    let options = WriteOptions {
        compression: args.compress.map(Into::into),
        pretty: args.pretty,
        name: args.name,
        allow_nan: args.allow_nan,
        raw: args.raw,
        threads: args.threads,
    };
    let name = input.name;
    let item = codec::read_binary(input.reader).with_context(|| name.clone())?;
    let written = codec::write_json(item, &mut output, args.style.into(), &options);
    output.finish(written.with_context(|| name))
}

fn decode(args: DecodeArgs, quiet: bool) -> Result<()> {
    let output_path = named(args.output);
    let format = output_format(args.to.map(Into::into), output_path.as_deref());
    let input = open_input(args.input, quiet)?;
    let mut output = Output::open(output_path, &input)?;
    let name = input.name;
    let defaults = ReadOptions::default();
    // A size the user gives is the limit for all data, in memory or not.
    let limit = args.max_bytes.map(|size| size.0);
    let options = ReadOptions {
        name: args.name,
        path: args.path,
        shape: args.shape.map(|dims| dims.0),
        dtype: args.dtype,
        max_bytes: limit.unwrap_or(defaults.max_bytes),
        max_in_memory: limit.unwrap_or(defaults.max_in_memory),
    };
    let layout = args.layout.into();
    let mut item = codec::read_json(input.reader, &options).with_context(|| name.clone())?;
    if let Some(dtype) = args.cast {
        item = codec::cast(item, dtype, layout).with_context(|| name.clone())?;
    }
    let written = codec::write_binary(item, &mut output, format, layout);
    output.finish(written.with_context(|| name))
}

/// The format `--to` names, or else the one the output file's extension implies; exits with
/// a usage error when neither says.
fn output_format(to: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(format) = to {
        return format;
    }
    let names = Format::ALL.map(Format::extension).join("|");
    let message = match output {
        None => format!("decode writes binary; to write it to standard output, give --to {names}"),
        Some(path) => {
            let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or("");
            if let Some(format) = Format::from_extension(extension) {
                return format;
            }
            format!(
                "cannot tell the format of {} from its extension; give --to {names}",
                path.display()
            )
        }
    };
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}
