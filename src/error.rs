//! The library's error type. Each variant prints its whole message and keeps no `source()`,
//! except `Io`, which is transparent, and `Within`, which prints only where its cause is, so
//! that a chain printed with anyhow's `{:#}` says everything once.

use crate::codec::dtype::UnknownDtype;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(std::io::Error),

    #[error(transparent)]
    Dtype(#[from] UnknownDtype),

    /// An error in one of several items, and which: a member, a tensor, a JSON Pointer.
    #[error("{within}")]
    Within {
        within: String,
        #[source]
        source: Box<Error>,
    },

    /// The input is no kind `encode` reads.
    #[error(
        "expected a .npy file (starting \\x93NUMPY), a PNG image or a .safetensors file; found \
         {found}"
    )]
    UnknownInput { found: String },

    /// `decode` was given something that is not JSON (a `.npy`, an image, UTF-16 text, ...).
    #[error("expected JSON; found {found}")]
    NotJson { found: String },

    /// An option that does not apply to what is being done, and why: a usage error, which
    /// the binary reports with the subcommand's usage line and exit status 2.
    #[error("{0}")]
    Usage(String),

    #[error("bad .npy header: {0}")]
    NpyHeader(String),

    /// The data does not have the length that shape and dtype declare.
    #[error("data is {found} than shape {shape:?} x {dtype} declares ({expected} bytes)")]
    DataLength {
        shape: Vec<usize>,
        dtype: &'static str,
        expected: u64,
        /// "shorter (N bytes)" or "longer".
        found: String,
    },

    #[error(
        "shape {shape:?} x {dtype} is too large: its item size times its non-zero dimensions \
         is over 2^63 - 1 bytes, which numpy refuses"
    )]
    ShapeOverflow {
        shape: Vec<u64>,
        dtype: &'static str,
    },

    #[error(
        "shape has {rank} dimensions; numpy allows at most {}",
        crate::codec::model::MAX_RANK
    )]
    TooManyDimensions { rank: usize },

    /// Decoded data larger than a limit: the user's `--max-bytes`, or a fixed bound on what is
    /// held in memory.
    #[error("{what} is {}{hint}", against_limit(*.size, *.limit))]
    TooLarge {
        what: String,
        /// The size in bytes, if known; `None` when reading stopped at the limit.
        size: Option<u128>,
        limit: u64,
        /// How to raise the limit, if it can be raised.
        hint: &'static str,
    },

    #[error("invalid base64 in {field}: {detail}")]
    Base64 { field: String, detail: String },

    #[error("invalid {compression} data in {field}: {detail}")]
    Decompress {
        compression: &'static str,
        field: String,
        detail: String,
    },

    /// A large string kept aside while a document is read could not be: the temporary
    /// directory is missing, not writable, or full.
    #[error(
        "cannot {action} a temporary file in {} (set TMPDIR to a writable directory): {reason}",
        directory.display()
    )]
    TemporaryFile {
        action: &'static str,
        directory: std::path::PathBuf,
        reason: String,
    },

    /// A safetensors file that the reference implementation refuses, or that holds what
    /// tensorjson does not carry.
    #[error("cannot read this safetensors file: {0}")]
    SafetensorsRead(String),

    /// Tensors that cannot be written as a safetensors file, and why.
    #[error("cannot write a safetensors file: {0}")]
    SafetensorsWrite(String),

    #[error("invalid JSON: {0}")]
    Json(String),

    /// A JSON document that is well formed but not what a dialect expects.
    #[error("{0}")]
    Envelope(String),

    #[error("invalid PNG: {0}")]
    Png(String),

    /// A value that `--cast` cannot convert, at its flat C-order index.
    #[error("cannot cast to {to}: element {index} is {value}, {reason}")]
    Cast {
        to: &'static str,
        index: u64,
        value: String,
        reason: String,
    },

    /// An `.npz` archive that is no zip archive tensorjson can read, or that it refuses as a
    /// whole (a member name given twice).
    #[error("invalid .npz archive: {0}")]
    Npz(String),

    /// One member of an `.npz` archive refused: what it is, or how its sizes disagree.
    #[error(".npz member {member:?}: {detail}")]
    NpzMember { member: String, detail: String },

    /// A name that cannot be written as an `.npz` member.
    #[error("cannot name an .npz member {name:?}: {why}")]
    NpzName { name: String, why: &'static str },

    /// A tensor that cannot be written as an image, with what would work.
    #[error("cannot write this tensor as PNG: {0}")]
    NotAnImage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error, said to be in `within`.
    pub fn within(self, within: impl Into<String>) -> Error {
        Error::Within {
            within: within.into(),
            source: Box::new(self),
        }
    }
}

fn against_limit(size: Option<u128>, limit: u64) -> String {
    match size {
        Some(size) => format!("{size} bytes, over the limit of {limit} bytes"),
        None => format!("larger than the limit of {limit} bytes"),
    }
}

/// Errors raised inside a `Read` travel as `io::Error`; this unwraps them again.
impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = error.into_inner().expect("checked above");
            return *inner.downcast::<Error>().expect("checked above");
        }
        Error::Io(error)
    }
}

impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io(error) => error,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}
