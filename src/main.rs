//! The `tensorjson` binary: parse arguments, open input and output, run the codec, map errors
//! to exit statuses (0 success, 1 bad input or I/O failure, 2 bad usage).

mod cli;
mod ends;
#[cfg(unix)]
mod oom;
mod progress;
#[cfg(unix)]
mod signals;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use tensorjson::codec::dialect::{ReadOptions, WriteOptions};
use tensorjson::codec::{self, Format};

use crate::cli::{Cli, Command, DecodeArgs, EncodeArgs};
use crate::ends::{named, open_input, Output};

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
    let (subcommand, result) = match cli.command {
        Command::Encode(args) => ("encode", encode(args, cli.quiet)),
        Command::Decode(args) => ("decode", decode(args, cli.quiet)),
    };
    // By now the output is closed, and a temporary output file removed: exiting leaves
    // nothing behind.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_usage(&error) => usage_error(subcommand, format!("{error:#}")),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether the library refused an option that does not apply to the run.
fn is_usage(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<tensorjson::Error>(),
            Some(tensorjson::Error::Usage(_))
        )
    })
}

/// Ends the run as clap ends it on bad usage: the message, the subcommand's usage line, and
/// exit status 2.
fn usage_error(subcommand: &str, message: impl std::fmt::Display) -> ! {
    let mut command = Cli::command();
    // Building gives the subcommand its full name for the usage line (`tensorjson decode`).
    command.build();
    let subcommand = command
        .find_subcommand_mut(subcommand)
        .expect("a subcommand of the command line");
    subcommand
        .error(clap::error::ErrorKind::ArgumentConflict, message)
        .exit()
}

fn encode(args: EncodeArgs, quiet: bool) -> Result<()> {
    let options = WriteOptions {
        compression: args.compress.map(Into::into),
        pretty: args.pretty,
        name: args.name,
        allow_nan: args.allow_nan,
        raw: args.raw,
        threads: args.threads,
    };
    let style = args.style.into();
    // Before any input is read: options the style does not use are refused at once.
    codec::check_write_options(style, &options)?;
    let input = open_input(args.input, quiet)?;
    let mut output = Output::open(named(args.output), &input)?;
    let name = input.name;
    let item =
        codec::read_binary_of_size(input.reader, input.size).with_context(|| name.clone())?;
    let written = codec::write_json(item, &mut output, style, &options);
    output.finish(written.with_context(|| name))
}

fn decode(args: DecodeArgs, quiet: bool) -> Result<()> {
    let output_path = named(args.output);
    let format = output_format(args.to.map(Into::into), output_path.as_deref());
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
        threads: args.threads,
    };
    // What the options alone show is refused before any input is read; whether --dtype,
    // --name and --layout apply shows once the payload is found, still before any output.
    options.check()?;
    let input = open_input(args.input, quiet)?;
    let mut output = Output::open(output_path, &input)?;
    let name = input.name;
    let layout = args.layout.map(Into::into);
    let mut item = codec::read_json_again(input.reader, input.again, &options)
        .with_context(|| name.clone())?;
    codec::check_layout(&item, format, layout).with_context(|| name.clone())?;
    let layout = layout.unwrap_or_default();
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
    usage_error("decode", message)
}
