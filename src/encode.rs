//! `tensorjson encode`: binary inputs (one or several, each one item or a file of several)
//! into one JSON document, or JSON Lines.

use std::path::Path;

use anyhow::{Context, Result};
use tensorjson::codec::aside::Reread;
use tensorjson::codec::bundle::{self, JsonWriter, Sink};
use tensorjson::codec::dialect::{WriteOptions, DEFAULT_MAX_BYTES};
use tensorjson::codec::model::Named;
use tensorjson::codec::{self, Opened};

use crate::cli::EncodeArgs;
use crate::ends::{self, named, open_input, Output};

pub fn encode(args: EncodeArgs, quiet: bool) -> Result<()> {
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
        let file = input.again.and_then(Reread::whole_file);
        let name = input.name;
        let opened = codec::open_binary(input.reader, input.size, file, self.max_bytes);
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
            let file = input.again.and_then(Reread::whole_file);
            let name = input.name;
            let opened = codec::open_binary(input.reader, input.size, file, self.max_bytes);
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
