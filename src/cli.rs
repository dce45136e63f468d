//! The command line, declared with clap. Only this file and `main.rs` know about clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tensorjson::codec::dialect::Compression;
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
    /// Encode a .npy file or PNG image as JSON.
    Encode(EncodeArgs),
    /// Decode JSON into a .npy file or PNG image.
    Decode(DecodeArgs),
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// .npy or PNG file to read; `-` or nothing for standard input.
    pub input: Option<PathBuf>,
    /// JSON file to write; `-` or nothing for standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// How to lay the JSON out.
    #[arg(long, value_enum, default_value_t = StyleArg::Native)]
    pub style: StyleArg,
    /// Compress the tensor's bytes before base64.
    #[arg(long, value_enum)]
    pub compress: Option<CompressArg>,
    /// Indent the JSON (native, json-numpy, json-tricks and the image styles).
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
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// JSON file to read; `-` or nothing for standard input.
    pub input: Option<PathBuf>,
    /// File to write (.npy or .png); `-` or nothing for standard output, which needs --to.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Format to write; by default, the one OUTPUT's extension names.
    #[arg(long, value_enum)]
    pub to: Option<FormatArg>,
    /// Axis order of a tensor written as PNG: (H, W, C) or (C, H, W).
    #[arg(long, value_enum, default_value_t = LayoutArg::Hwc)]
    pub layout: LayoutArg,
    /// Which tensor to read from a document holding several (KServe inputs, TF Serving inputs).
    #[arg(long)]
    pub name: Option<String>,
    /// dtype of numbers where the JSON does not say (plain lists, TF Serving).
    #[arg(long, value_parser = parse_dtype)]
    pub dtype: Option<Dtype>,
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
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Npy => Format::Npy,
            FormatArg::Png => Format::Png,
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
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
