//! `tensorjson decode`: JSON into one binary file, a file of several tensors, or a directory
//! of files.

use std::path::Path;

use anyhow::{Context, Result};
use tensorjson::codec::bundle::{self, Files};
use tensorjson::codec::dialect::ReadOptions;
use tensorjson::codec::{self, Format};
use tensorjson::output::Directory;

use crate::cli::DecodeArgs;
use crate::ends::{self, named, open_input, Output};
use crate::usage_error;

/// What the command line tells the reader.
fn read_options(args: &mut DecodeArgs) -> ReadOptions {
    let defaults = ReadOptions::default();
    // A size the user gives is the limit for all data, in memory or not.
    let limit = args.max_bytes.map(|size| size.0);
    ReadOptions {
        name: args.name.take(),
        path: args.path.take(),
        shape: args.shape.take().map(|dims| dims.0),
        dtype: args.dtype,
        max_bytes: limit.unwrap_or(defaults.max_bytes),
        max_in_memory: limit.unwrap_or(defaults.max_in_memory),
        threads: args.threads,
    }
}

pub fn decode(mut args: DecodeArgs, quiet: bool) -> Result<()> {
    let options = read_options(&mut args);
    let output_path = named(args.output);
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
        let stream = bundle::read_json_again(input.reader, input.again, &options);
        let written = stream.and_then(|mut stream| {
            bundle::write_archive(&mut stream, &mut output, format, files, options.max_bytes)
        });
        return output.finish(written.map(drop).with_context(|| name));
    }
    let item = codec::read_json_again(input.reader, input.again, &options);
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
    let stream = bundle::read_json_again(input.reader, input.again, options);
    let mut stream = stream.with_context(|| name.clone())?;
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
