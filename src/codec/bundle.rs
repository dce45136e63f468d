//! Several named items in one run: every payload of a JSON stream read as a bundle, items
//! copied from a bundle into a sink, and several items written as one JSON document (an
//! object of payloads keyed by name, a KServe request of several inputs, TF Serving's named
//! inputs) or as JSON Lines, one document per item.

use std::collections::HashSet;
use std::io::{self, BufRead, Write};

use serde_json::Value;

use crate::codec::aside::Reread;
use crate::codec::dialect::{kserve, tf_serving, ReadOptions, WriteOptions, RAISE_HINT};
use crate::codec::dtype::Dtype;
use crate::codec::model::{Bundle, Item, Metadata, Named, Tensor};
use crate::codec::npz::NpzWriter;
use crate::codec::pngfile::Layout;
use crate::codec::safetensors::{SafetensorsWriter, METADATA_KEY};
use crate::codec::stream::JsonStream;
use crate::codec::write_binary;
use crate::codec::{check_numbers_written, into_tensor, json_input, own_format, prepare};
use crate::codec::{Format, Style};
use crate::error::{Error, Result};
use crate::output::Directory;

/// Where the items of a bundle go, one after the other.
pub trait Sink {
    fn add(&mut self, named: Named) -> Result<()>;
}

/// Every payload of every document in a JSON input (one document, JSON Lines, or documents
/// one after another), each named by its key or its own name, or else by its position.
pub fn read_json<'a>(
    input: impl BufRead + Send + 'a,
    options: &ReadOptions,
) -> Result<JsonStream<Box<dyn BufRead + Send + 'a>>> {
    read_json_again(input, None, options)
}

/// [`read_json`] of an input that `again` can read again from any offset, as
/// [`crate::codec::read_json_again`]: long strings and lists wait there, not aside.
pub fn read_json_again<'a>(
    input: impl BufRead + Send + 'a,
    again: Option<Reread>,
    options: &ReadOptions,
) -> Result<JsonStream<Box<dyn BufRead + Send + 'a>>> {
    options.check()?;
    let (start, input) = json_input(input)?;
    let again = again.map(|again| again.skipped(start));
    Ok(JsonStream::new(Box::new(input), again, options))
}

/// Moves every item of `bundle` into `sink`, the data of all together no more than
/// `max_bytes`; how many items there were. An error is said to be in the item it is in.
pub fn copy(bundle: &mut dyn Bundle, sink: &mut dyn Sink, max_bytes: u64) -> Result<usize> {
    let mut total: u64 = 0;
    let mut count = 0;
    while let Some(named) = bundle.next_item()? {
        let within = format!("item {:?}", named.name);
        total = total.saturating_add(declared_size(&named.item));
        if total > max_bytes {
            let error = Error::TooLarge {
                what: format!("the data of the first {} items", count + 1),
                size: Some(total.into()),
                limit: max_bytes,
                hint: RAISE_HINT,
            };
            return Err(error.within(within));
        }
        sink.add(named).map_err(|error| error.within(within))?;
        count += 1;
    }
    Ok(count)
}

/// The bytes an item's data takes: a tensor's, or a PNG file's.
fn declared_size(item: &Item) -> u64 {
    match item {
        Item::Tensor(tensor) => tensor.header.byte_len(),
        Item::Image(image) => image.bytes.len() as u64,
    }
}

/// How a style holds several named items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    /// An object of the style's own documents, keyed by name.
    Object,
    /// A KServe request of several inputs, each with its name.
    KserveInputs,
    /// TF Serving's columnar form: `inputs`, an object keyed by name.
    TfServingInputs,
}

impl Holder {
    /// How the style holds several items, or why it cannot.
    fn of(style: Style) -> std::result::Result<Holder, &'static str> {
        match style {
            Style::Kserve => Ok(Holder::KserveInputs),
            Style::TfServing => Ok(Holder::TfServingInputs),
            Style::List => Err("a list holds one array, and has no place for a name"),
            Style::Native
            | Style::JsonNumpy
            | Style::JsonTricks
            | Style::NpyBase64
            | Style::DataUrl
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => Ok(Holder::Object),
        }
    }

    /// What a document of several items starts and ends with.
    fn brackets(self) -> (&'static str, &'static str) {
        match self {
            Holder::Object => ("{", "}"),
            Holder::KserveInputs => kserve::REQUEST,
            Holder::TfServingInputs => tf_serving::NAMED_INPUTS,
        }
    }
}

/// Writes several named items as one document of `style`, or with `lines`, as one document
/// per item, a line each (JSON Lines), each still naming its item.
pub struct JsonWriter<'w> {
    out: &'w mut dyn Write,
    style: Style,
    holder: Holder,
    options: WriteOptions,
    lines: bool,
    names: HashSet<String>,
    /// Whether the document has begun (JSON Lines: the line).
    started: bool,
}

impl<'w> JsonWriter<'w> {
    /// Refuses a style that cannot name its items, and `--raw`, `--name` (the items have
    /// their own names), as usage errors, before anything is written.
    pub fn new(
        out: &'w mut dyn Write,
        style: Style,
        options: &WriteOptions,
        lines: bool,
    ) -> Result<Self> {
        crate::codec::check_write_options(style, options)?;
        let holder = Holder::of(style).map_err(|why| {
            Error::Usage(format!(
                "--style {} cannot hold several named items: {why}; write them one run each, \
                 or use a style that names them (native, kserve, json-numpy, ...)",
                style.name()
            ))
        })?;
        let refused = [
            (options.raw, "--raw writes one data URL as bare text"),
            (options.name.is_some(), "--name names a single tensor"),
            (
                options.pretty && lines,
                "--pretty spreads a document over several lines, and --lines writes one a line",
            ),
        ];
        if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
            return Err(Error::Usage(format!(
                "{why}; with several items, each has its own name (NAME=FILE, or the file's stem)"
            )));
        }
        Ok(JsonWriter {
            out,
            style,
            holder,
            options: options.clone(),
            lines,
            names: HashSet::new(),
            started: false,
        })
    }

    /// Ends the document (after no item at all, an empty one; as JSON Lines, nothing).
    pub fn finish(self) -> Result<()> {
        let (open, close) = self.holder.brackets();
        if self.lines {
            return Ok(());
        }
        if !self.started {
            self.out.write_all(open.as_bytes())?;
        } else if self.options.pretty && self.holder == Holder::Object {
            self.out.write_all(b"\n")?;
        }
        self.out.write_all(close.as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Writes the bundle's metadata as the member `__metadata__` (as a safetensors header
    /// holds it) where the document is an object of items; JSON Lines and the protocol
    /// styles have no place for it.
    pub fn metadata(&mut self, metadata: &Metadata) -> Result<()> {
        if self.lines || self.holder != Holder::Object {
            return Ok(());
        }
        self.begin_member()?;
        let key = Value::from(METADATA_KEY);
        let value = serde_json::to_value(metadata).map_err(io::Error::from)?;
        if self.options.pretty {
            write!(self.out, "\n  {key}: ")?;
            serde_json::to_writer_pretty(Indented(self.out), &value).map_err(io::Error::from)?;
        } else {
            write!(self.out, "{key}:{value}")?;
        }
        Ok(())
    }

    /// Opens the document before its first member, or separates this one from the last.
    fn begin_member(&mut self) -> Result<()> {
        if self.started {
            self.out.write_all(b",")?;
        } else {
            self.out.write_all(self.holder.brackets().0.as_bytes())?;
            self.started = true;
        }
        Ok(())
    }

    fn write_member(&mut self, named: Named) -> Result<()> {
        let Named { name, item } = named;
        let key = Value::from(name.as_str()).to_string();
        match self.holder {
            Holder::KserveInputs => kserve::write_input(&name, item, self.out, &self.options),
            Holder::TfServingInputs => {
                write!(self.out, "{key}:")?;
                tf_serving::write_value(item, self.out, &self.options)
            }
            Holder::Object if self.options.pretty && self.style.indents() => {
                write!(self.out, "\n  {key}: ")?;
                self.style
                    .write(item, &mut Indented(self.out), &self.options)
            }
            Holder::Object => {
                write!(self.out, "{key}:")?;
                self.style.write(item, self.out, &self.options)
            }
        }
    }
}

impl Sink for JsonWriter<'_> {
    fn add(&mut self, named: Named) -> Result<()> {
        check_numbers_written(&named.item, self.style, &self.options)?;
        if !self.names.insert(named.name.clone()) {
            return Err(Error::Envelope(format!(
                "two items are named {:?}; give each its own name (NAME=FILE)",
                named.name
            )));
        }
        self.begin_member()?;
        self.write_member(named)?;
        if self.lines {
            self.out.write_all(self.holder.brackets().1.as_bytes())?;
            self.out.write_all(b"\n")?;
            self.started = false;
        }
        Ok(())
    }
}

/// Indents a JSON value written into it by one more level: JSON text has line breaks only
/// between tokens (never inside a string), so each is followed by two more spaces.
struct Indented<'w>(&'w mut dyn Write);

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(newline) = memchr::memchr(b'\n', buf) else {
            return self.0.write(buf);
        };
        if newline > 0 {
            return self.0.write(&buf[..newline]);
        }
        self.0.write_all(b"\n  ")?;
        Ok(1)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// How items are written as files ([`Files::in_directory`]): each in `format` when one is given.
pub struct Files {
    pub format: Option<Format>,
    pub layout: Option<Layout>,
    pub cast: Option<Dtype>,
}

impl Files {
    /// Writes each item as a file in `directory`, named by the item: `NAME.npy` for a tensor
    /// and `NAME.png` for an image, unless a format is given.
    pub fn in_directory(self, directory: &mut Directory) -> DirectorySink<'_> {
        DirectorySink {
            directory,
            files: self,
        }
    }
}

pub struct DirectorySink<'d> {
    directory: &'d mut Directory,
    files: Files,
}

impl Sink for DirectorySink<'_> {
    fn add(&mut self, named: Named) -> Result<()> {
        let Named { name, item } = named;
        let Files {
            format,
            layout,
            cast,
        } = self.files;
        let format = format.unwrap_or_else(|| own_format(&item));
        let item = prepare(item, format, layout, cast)?;
        let mut file = self.directory.create(&name, format.extension())?;
        write_binary(item, &mut file, format, layout.unwrap_or_default())?;
        Ok(self.directory.keep(file)?)
    }
}

/// Writes every item of `bundle` into one file of `format` (`.npz`, `.safetensors`), the data of
/// all together no more than `max_bytes`; how many items there were.
pub fn write_archive(
    bundle: &mut dyn Bundle,
    out: &mut dyn Write,
    format: Format,
    files: Files,
    max_bytes: u64,
) -> Result<usize> {
    match format {
        Format::Npz => {
            let mut sink = Archived {
                writer: NpzWriter::new(out),
                files,
            };
            let count = copy(bundle, &mut sink, max_bytes)?;
            sink.writer.finish()?;
            Ok(count)
        }
        Format::Safetensors => {
            let mut sink = Archived {
                writer: SafetensorsWriter::new()?,
                files,
            };
            let count = copy(bundle, &mut sink, max_bytes)?;
            if let Some(metadata) = bundle.metadata() {
                sink.writer.set_metadata(metadata.clone());
            }
            sink.writer.finish(out)?;
            Ok(count)
        }
        Format::Npy | Format::Png => Err(Error::Usage(format!(
            "a .{} file holds one item; write several to a directory (-o DIR/)",
            format.extension()
        ))),
    }
}

/// Items going into an archive, each as a tensor (an image as its pixels).
struct Archived<W> {
    writer: W,
    files: Files,
}

impl<W> Archived<W> {
    /// The item as the tensor that goes into the archive, and its name.
    fn tensor<'a>(&self, named: Named<'a>) -> Result<(String, Tensor<'a>)> {
        let Named { name, item } = named;
        let Files { layout, cast, .. } = self.files;
        let item = prepare(item, Format::Npy, layout, cast)?;
        Ok((name, into_tensor(item, layout.unwrap_or_default())?))
    }
}

impl Sink for Archived<SafetensorsWriter> {
    fn add(&mut self, named: Named) -> Result<()> {
        let (name, mut tensor) = self.tensor(named)?;
        self.writer.add(&name, &mut tensor)
    }
}

impl<W: Write> Sink for Archived<NpzWriter<W>> {
    fn add(&mut self, named: Named) -> Result<()> {
        let (name, mut tensor) = self.tensor(named)?;
        self.writer.add(&name, &mut tensor)
    }
}
