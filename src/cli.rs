//! The command line, declared with clap. Only this file and `main.rs` know about clap.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tensorjson::codec::dialect::{Compression, DEFAULT_MAX_BYTES, DEFAULT_MAX_IN_MEMORY};
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::{Format, Style};
use tensorjson::{Color, Dtype};

#[derive(Parser, Debug)]
#[command(
    name = "tensorjson",
    version,
    about = "Move NumPy arrays and PNG images in and out of JSON, bit-exact."
)]
#[command(after_help = supported())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show no progress line (one appears on a terminal for runs over a second).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

fn supported() -> String {
    format!(
        "Supported dtypes: {}\nPNG colors: {}",
        Dtype::names(),
        Color::names()
    )
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encode .npy files and PNG images as JSON.
    Encode(EncodeArgs),
    /// Decode JSON into .npy files or PNG images.
    Decode(DecodeArgs),
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// `.npy`, PNG, `.npz` or `.safetensors` files to read; `-` or nothing for standard input. Several
    /// items make one document, each named by NAME= before its file, its file's stem, or its
    /// name in the file.
    #[arg(value_name = "[NAME=]INPUT")]
    pub inputs: Vec<PathBuf>,
    /// JSON file to write; `-` or nothing for standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write one document per item, a line each (JSON Lines), each naming its item.
    #[arg(long)]
    pub lines: bool,
    /// How to lay the JSON out.
    #[arg(long, value_enum, default_value_t = StyleArg::Native)]
    pub style: StyleArg,
    /// Compress the tensor's bytes before base64.
    #[arg(long, value_enum)]
    pub compress: Option<CompressArg>,
    /// Indent the JSON (native, json-numpy, json-tricks, hand-rolled and the image styles).
    #[arg(long)]
    pub pretty: bool,
    /// Name of the tensor, where the style has names (kserve; default input-0).
    #[arg(long)]
    pub name: Option<String>,
    /// Write NaN and infinities in list styles as the NaN/Infinity tokens Python's json reads.
    #[arg(long)]
    pub allow_nan: bool,
    /// With --style data-url, print the URL as bare text rather than a JSON string.
    #[arg(long)]
    pub raw: bool,
    /// Threads compressing with --compress (default: every core; 1 writes the
    /// single-threaded zlib stream of earlier versions), writing numbers in list styles
    /// (default: every core), or else encoding base64 (default: 1).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    #[arg(long, value_name = "SIZE", help = encode_max_bytes_help())]
    pub max_bytes: Option<ByteSize>,
}

fn encode_max_bytes_help() -> String {
    format!(
        "Largest data of all the tensors of an .npz or .safetensors input together, checked \
         before it is read: bytes, or with a suffix K, M, G or T, or `none` [default: {}]",
        ByteSize(DEFAULT_MAX_BYTES)
    )
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// JSON file to read; `-` or nothing for standard input.
    pub input: Option<PathBuf>,
    /// File to write (.npy, .png, or .npz or .safetensors for every payload); `-` or nothing for
    /// standard output, which needs --to; or a directory (`DIR/`), to write every payload as
    /// DIR/NAME.npy or DIR/NAME.png.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Format to write; by default, the one OUTPUT's extension names.
    #[arg(long, value_enum)]
    pub to: Option<FormatArg>,
    /// Axis order of a tensor written as PNG, and of an image's pixels written as .npy:
    /// (H, W, C) or (C, H, W) (gray: (H, W) or (1, H, W)) [default: hwc]; it applies to
    /// nothing else.
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Which payload to read from a document holding several: its name in a KServe or TF
    /// Serving document, or its key (`{"logits": {..}, "argmax": {..}}`).
    #[arg(long)]
    pub name: Option<String>,
    /// Where the payload is, as a JSON Pointer (`/outputs/0`, `/result/probs`).
    #[arg(long, value_name = "POINTER")]
    pub path: Option<String>,
    /// dtype of numbers where the JSON does not say (plain lists, TF Serving), or of raw data.
    #[arg(long, value_parser = parse_dtype)]
    pub dtype: Option<Dtype>,
    /// Shape of raw tensor data: the base64 string at --path, read with --dtype (`2,3`).
    #[arg(long, value_name = "DIMS")]
    pub shape: Option<Dims>,
    /// Convert the values to DTYPE as numpy's astype does (floats truncate toward zero into
    /// integers); a value DTYPE cannot hold (out of range, NaN or infinity to an integer, a
    /// non-zero imaginary part to a real type) is an error naming its index.
    #[arg(long, value_name = "DTYPE", value_parser = parse_dtype)]
    pub cast: Option<Dtype>,
    #[arg(long, value_name = "SIZE", help = max_bytes_help())]
    pub max_bytes: Option<ByteSize>,
    /// Threads decoding base64 past its first 4 MiB (default: 1).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

fn max_bytes_help() -> String {
    format!(
        "Largest decoded payload (a tensor's data, a PNG file or its pixels) to accept, checked \
         before it is read: bytes, or with a suffix K, M, G or T (powers of 1024), or `none` \
         [default: {}, and {} for data reordered in memory: Fortran order, planar complex, \
         array views]",
        ByteSize(DEFAULT_MAX_BYTES),
        ByteSize(DEFAULT_MAX_IN_MEMORY)
    )
}

/// A size in bytes, written as people write it: `4G`, `512M`, `1000`, or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

const UNITS: [(char, u32); 4] = [('T', 40), ('G', 30), ('M', 20), ('K', 10)];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("none") {
            return Ok(ByteSize(u64::MAX));
        }
        let upper = text.to_ascii_uppercase();
        let split = upper
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(upper.len());
        let (digits, suffix) = upper.split_at(split);
        let shift = match suffix {
            "" | "B" => Some(0),
            _ => UNITS.iter().find_map(|&(unit, shift)| {
                let rest = suffix.strip_prefix(unit)?;
                matches!(rest, "" | "B" | "IB").then_some(shift)
            }),
        };
        shift
            .zip(digits.parse::<u64>().ok())
            .and_then(|(shift, count)| count.checked_mul(1 << shift))
            .map(ByteSize)
            .ok_or_else(|| {
                format!("expected a size such as 1000, 512M or 4G, or none; found {text:?}")
            })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.0 == u64::MAX {
            return f.write_str("none");
        }
        match UNITS
            .iter()
            .find(|&&(_, shift)| self.0 != 0 && self.0 % (1 << shift) == 0)
        {
            Some(&(unit, shift)) => write!(f, "{}{unit}", self.0 >> shift),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A shape as people write it: `2,3`, `2x3`, `[2, 3]`, `(2, 3)`; empty or `()` for 0-d.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dims(pub Vec<u64>);

impl FromStr for Dims {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let inner = text
            .trim()
            .trim_start_matches(['[', '('])
            .trim_end_matches([']', ')']);
        inner
            .split([',', 'x'])
            .map(str::trim)
            .filter(|dim| !dim.is_empty())
            .map(|dim| dim.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map(Dims)
            .map_err(|_| format!("expected dimensions such as 2,3 or [2, 3]; found {text:?}"))
    }
}

fn parse_dtype(text: &str) -> Result<Dtype, String> {
    Dtype::parse(text)
        .map(|(dtype, _)| dtype)
        .map_err(|error| error.to_string())
}

// Each argument enum mirrors a library enum; the matches below have no `_` arm, so a new
// variant fails to compile until it is offered here too.

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StyleArg {
    Native,
    JsonNumpy,
    JsonTricks,
    Kserve,
    TfServing,
    NpyBase64,
    List,
    DataUrl,
    Openai,
    Anthropic,
    Gemini,
    HandRolled,
}

impl From<StyleArg> for Style {
    fn from(style: StyleArg) -> Style {
        match style {
            StyleArg::Native => Style::Native,
            StyleArg::JsonNumpy => Style::JsonNumpy,
            StyleArg::JsonTricks => Style::JsonTricks,
            StyleArg::Kserve => Style::Kserve,
            StyleArg::TfServing => Style::TfServing,
            StyleArg::NpyBase64 => Style::NpyBase64,
            StyleArg::List => Style::List,
            StyleArg::DataUrl => Style::DataUrl,
            StyleArg::Openai => Style::Openai,
            StyleArg::Anthropic => Style::Anthropic,
            StyleArg::Gemini => Style::Gemini,
            StyleArg::HandRolled => Style::HandRolled,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CompressArg {
    Zlib,
}

impl From<CompressArg> for Compression {
    fn from(compress: CompressArg) -> Compression {
        match compress {
            CompressArg::Zlib => Compression::Zlib,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Npy,
    Png,
    Npz,
    Safetensors,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Npy => Format::Npy,
            FormatArg::Png => Format::Png,
            FormatArg::Npz => Format::Npz,
            FormatArg::Safetensors => Format::Safetensors,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LayoutArg {
    Hwc,
    Chw,
}

impl From<LayoutArg> for Layout {
    fn from(layout: LayoutArg) -> Layout {
        match layout {
            LayoutArg::Hwc => Layout::Hwc,
            LayoutArg::Chw => Layout::Chw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_variant_has_an_argument() {
        // clap's names must be the library's names, so help and errors agree.
        for arg in StyleArg::value_variants() {
            let style = Style::from(*arg);
            assert_eq!(arg.to_possible_value().unwrap().get_name(), style.name());
        }
        assert_eq!(Style::ALL.len(), StyleArg::value_variants().len());
        assert_eq!(Format::ALL.len(), FormatArg::value_variants().len());
        for arg in CompressArg::value_variants() {
            let compression = Compression::from(*arg);
            assert_eq!(
                arg.to_possible_value().unwrap().get_name(),
                compression.name()
            );
        }
    }

    #[test]
    fn shapes_read_as_written() {
        for (text, shape) in [
            ("2,3", vec![2, 3]),
            ("[2, 3]", vec![2, 3]),
            ("(4,)", vec![4]),
            ("2x3x1", vec![2, 3, 1]),
            ("", vec![]),
            ("()", vec![]),
        ] {
            assert_eq!(text.parse::<Dims>(), Ok(Dims(shape)), "{text:?}");
        }
        for bad in ["2,-3", "a", "2.5", "[2]]x"] {
            assert!(bad.parse::<Dims>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_read_as_written_and_print_back_the_same() {
        for (text, bytes) in [
            ("1000", 1000),
            ("0", 0),
            ("512M", 512 << 20),
            ("4G", 4 << 30),
            ("4GiB", 4 << 30),
            ("4gb", 4 << 30),
            ("2T", 2 << 40),
            ("3k", 3 << 10),
            ("none", u64::MAX),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
            let shown = ByteSize(bytes).to_string();
            assert_eq!(shown.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{shown}");
        }
        assert_eq!(ByteSize(4 << 30).to_string(), "4G");
        for bad in [
            "",
            "G",
            "-1",
            "+5",
            "1.5G",
            "4X",
            "4IB",
            "4BBB",
            "4GiBB",
            "99999999999T",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} was accepted");
        }
    }
}
