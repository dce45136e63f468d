//! The `tensorjson` binary: parse arguments, open input and output, run the codec, map errors
//! to exit statuses (0 success, 1 bad input or I/O failure, 2 bad usage).

mod cli;
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

/// A closed standard output (`tensorjson ... | head`) is not a failure, and ends the run at
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
enum Output {
    Stdout(BufWriter<io::Stdout>),
    File { file: AtomicFile, name: String },
}

impl Output {
    fn open(path: Option<PathBuf>, input: &Input) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::with_capacity(
                BUFFER,
                io::stdout(),
            )));
        };
        let name = path.display().to_string();
        if let Some(input_path) = &input.path {
            if is_same_file(input_path, &path) {
                anyhow::bail!("{name}: is also the input; write the output to another file");
            }
        }
        let file = AtomicFile::create(&path).with_context(|| format!("{name}: cannot create"))?;
        Ok(Output::File { file, name })
    }

    fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut stdout) => Ok(unless_closed(stdout.flush())?),
            Output::File { file, name } => {
                file.commit()
                    .with_context(|| format!("{name}: cannot write"))?;
                Ok(())
            }
        }
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
        match self {
            Output::Stdout(stdout) => unless_closed(stdout.write(buf)),
            Output::File { file, name } => file
                .write(buf)
                .map_err(|error| io::Error::new(error.kind(), format!("writing {name}: {error}"))),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(stdout) => unless_closed(stdout.flush()),
            Output::File { file, .. } => file.flush(),
        }
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
    };
    let name = input.name;
    let item = codec::read_binary(input.reader).with_context(|| name.clone())?;
    codec::write_json(item, &mut output, args.style.into(), &options).with_context(|| name)?;
    output.commit()
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
        dtype: args.dtype,
        max_bytes: limit.unwrap_or(defaults.max_bytes),
        max_in_memory: limit.unwrap_or(defaults.max_in_memory),
    };
    let item = codec::read_json(input.reader, &options).with_context(|| name.clone())?;
    codec::write_binary(item, &mut output, format, args.layout.into()).with_context(|| name)?;
    output.commit()
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
