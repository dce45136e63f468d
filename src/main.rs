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
use tensorjson::codec::bundle::{self, Files, JsonWriter, Sink};
use tensorjson::codec::dialect::DEFAULT_MAX_BYTES;
use tensorjson::codec::dialect::{ReadOptions, WriteOptions};
use tensorjson::codec::model::Named;
use tensorjson::codec::{self, Format, Opened};
use tensorjson::output::Directory;

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
    let sources = ends::sources(args.inputs)?;
    let several = sources.len() > 1 || sources[0].name.is_some() || args.lines;
    let paths: Vec<&Path> = sources.iter().filter_map(|s| s.path.as_deref()).collect();
    let mut output = Output::open(named(args.output), &paths)?;
    let max_bytes = args.max_bytes.map_or(DEFAULT_MAX_BYTES, |size| size.0);
    let run = Encoding {
        style,
        options,
        lines: args.lines,
        max_bytes,
        quiet,
    };
    let written = if several {
        run.several(&sources, &mut output)
    } else {
        run.one(&sources[0], &mut output)
    };
    output.finish(written)
}

/// An `encode` run, once its options are checked.
struct Encoding {
    style: codec::Style,
    options: WriteOptions,
    lines: bool,
    max_bytes: u64,
    quiet: bool,
}

impl Encoding {
    /// One input's item as the style's document, or its items (a safetensors file) as a
    /// document of several.
    fn one(&self, source: &ends::Source, output: &mut Output) -> Result<()> {
        let input = open_input(source.path.clone(), self.quiet)?;
        let name = input.name;
        let opened = codec::open_binary(input.reader, input.size, self.max_bytes);
        let written = opened.and_then(|opened| match opened {
            Opened::One(item) => codec::write_json(item, output, self.style, &self.options),
            Opened::Several(mut items) => {
                let mut writer = JsonWriter::new(output, self.style, &self.options, self.lines)?;
                if let Some(metadata) = items.metadata() {
                    writer.metadata(metadata)?;
                }
                bundle::copy(items.as_mut(), &mut writer, u64::MAX)?;
                writer.finish()
            }
        });
        written.with_context(|| name)
    }

    /// Every input's items in one document, or as JSON Lines.
    fn several(&self, sources: &[ends::Source], output: &mut Output) -> Result<()> {
        let mut writer = JsonWriter::new(output, self.style, &self.options, self.lines)?;
        for (position, source) in sources.iter().enumerate() {
            let input = open_input(source.path.clone(), self.quiet)?;
            let name = input.name;
            let opened = codec::open_binary(input.reader, input.size, self.max_bytes);
            let added = opened.and_then(|opened| match opened {
                Opened::One(item) => writer.add(Named::new(source.item_name(position), item)),
                Opened::Several(mut items) => {
                    bundle::copy(items.as_mut(), &mut writer, u64::MAX).map(drop)
                }
            });
            added.with_context(|| name)?;
        }
        Ok(writer.finish()?)
    }
}

fn decode(args: DecodeArgs, quiet: bool) -> Result<()> {
    let output_path = named(args.output);
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
    // What the options alone show is refused before any input is read; whether --dtype,
    // --name and --layout apply shows once the payload is found, still before any output.
    options.check()?;
    let layout = args.layout.map(Into::into);
    let to = args.to.map(Into::into);
    if let Some(directory) = output_path.as_deref().filter(|path| is_directory(path)) {
        if let Some(format) = to.filter(|format: &Format| format.holds_several()) {
            usage_error(
                "decode",
                format!(
                    "--to {} writes every item into one file, not a directory: give -o \
                     FILE.{0}, or --to npy or png for a file per item",
                    format.extension()
                ),
            );
        }
        let input = open_input(args.input, quiet)?;
        let files = Files {
            format: to,
            layout,
            cast: args.cast,
        };
        return decode_to_directory(input, directory, &options, files);
    }
    let format = output_format(to, output_path.as_deref());
    let input = open_input(args.input, quiet)?;
    let paths: Vec<&Path> = input.path.as_deref().into_iter().collect();
    let mut output = Output::open(output_path, &paths)?;
    let name = input.name;
    if format.holds_several() {
        let files = Files {
            format: None,
            layout,
            cast: args.cast,
        };
        let written = bundle::read_json(input.reader, &options).and_then(|mut stream| {
            bundle::write_archive(&mut stream, &mut output, format, files, options.max_bytes)
        });
        return output.finish(written.map(drop).with_context(|| name));
    }
    let item = codec::read_json(input.reader, &options);
    let item = item.and_then(|item| codec::prepare(item, format, layout, args.cast));
    let item = item.with_context(|| name.clone())?;
    let written = codec::write_binary(item, &mut output, format, layout.unwrap_or_default());
    output.finish(written.with_context(|| name))
}

/// An output path that names a directory: it ends with a separator, or one is there.
fn is_directory(path: &Path) -> bool {
    path.as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR)
        || path.is_dir()
}

/// Writes every payload of every document as a file in `path`, all or none.
fn decode_to_directory(
    input: ends::Input,
    path: &Path,
    options: &ReadOptions,
    files: Files,
) -> Result<()> {
    let name = input.name;
    let shown = path.display();
    let mut directory = Directory::open(path).with_context(|| format!("{shown}: cannot create"))?;
    let mut stream = bundle::read_json(input.reader, options).with_context(|| name.clone())?;
    let mut sink = files.in_directory(&mut directory);
    bundle::copy(&mut stream, &mut sink, options.max_bytes).with_context(|| name.clone())?;
    directory
        .commit()
        .with_context(|| format!("{shown}: cannot write"))?;
    Ok(())
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
