//! Telling what an input is from its first bytes, so that a file given to the wrong command
//! (a `.npy` to `decode`, a JPEG to `encode`, JSON saved as UTF-16 by PowerShell) gets a
//! message naming what it is and what would read it, rather than a parse error at byte 1.

use crate::error::{Error, Result};

/// How many first bytes [`sniff`] needs to tell every kind apart.
pub const HEAD: usize = 16;

/// The byte-order mark some Windows tools write before UTF-8 text.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest header a safetensors file may have (the format's own limit, 100 MB).
pub const SAFETENSORS_MAX_HEADER: u64 = 100_000_000;

/// What an input is, as far as its first bytes tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Npy,
    Png,
    Jpeg,
    Gif,
    /// A zip archive, which an `.npz` is.
    Zip,
    Gzip,
    Safetensors,
    /// UTF-16 text, with a byte-order mark or with NUL bytes between ASCII characters.
    Utf16,
    /// JSON text (after an optional UTF-8 byte-order mark).
    Json,
}

/// What the command that read the input expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// `encode`: a `.npy` file or a PNG image.
    NpyOrPng,
    /// `decode`: JSON.
    Json,
}

/// What `head`, the first bytes of an input (up to [`HEAD`] of them), is, if it is a kind
/// tensorjson knows the name of.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    const MAGICS: [(&[u8], Kind); 9] = [
        (crate::codec::npy::MAGIC, Kind::Npy),
        (crate::codec::pngfile::SIGNATURE, Kind::Png),
        (b"\xFF\xD8\xFF", Kind::Jpeg),
        (b"GIF87a", Kind::Gif),
        (b"GIF89a", Kind::Gif),
        (b"PK\x03\x04", Kind::Zip),
        // An empty zip archive has only its end record.
        (b"PK\x05\x06", Kind::Zip),
        (b"\x1F\x8B", Kind::Gzip),
        (b"\xFF\xFE", Kind::Utf16),
    ];
    if let Some((_, kind)) = MAGICS.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(*kind);
    }
    if head.starts_with(b"\xFE\xFF") || nul_between_ascii(head) {
        return Some(Kind::Utf16);
    }
    if is_safetensors(head) {
        return Some(Kind::Safetensors);
    }
    let text = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    match text.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'{' | b'[' | b'"') => Some(Kind::Json),
        _ => None,
    }
}

/// UTF-16 without a byte-order mark: ASCII characters, each beside a NUL byte (after it in
/// little-endian, before it in big-endian). JSON text never holds a raw NUL.
fn nul_between_ascii(head: &[u8]) -> bool {
    let ascii = |byte: u8| byte != 0 && byte.is_ascii();
    match head {
        [a, 0, b, 0, ..] | [0, a, 0, b, ..] => ascii(*a) && ascii(*b),
        _ => false,
    }
}

/// A safetensors file: a little-endian 8-byte header length, then the JSON header itself.
fn is_safetensors(head: &[u8]) -> bool {
    let Some((length, rest)) = head.split_first_chunk::<8>() else {
        return false;
    };
    let length = u64::from_le_bytes(*length);
    (2..=SAFETENSORS_MAX_HEADER).contains(&length) && rest.starts_with(b"{")
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Npy => "a .npy file",
            Kind::Png => "a PNG image",
            Kind::Jpeg => "a JPEG image",
            Kind::Gif => "a GIF image",
            Kind::Zip => "a zip archive (an .npz is one)",
            Kind::Gzip => "gzip-compressed data",
            Kind::Safetensors => "a safetensors file",
            Kind::Utf16 => "UTF-16 text, as PowerShell's `>` writes",
            Kind::Json => "JSON text",
        }
    }

    /// What to run instead, for a command that expected something else.
    pub fn advice(self, expected: Expected) -> &'static str {
        match (self, expected) {
            (Kind::Npy | Kind::Png, Expected::Json) => {
                "to make JSON of it, run `tensorjson encode FILE`"
            }
            (Kind::Npy | Kind::Png, Expected::NpyOrPng) => "tensorjson reads it",
            (Kind::Jpeg | Kind::Gif, _) => {
                "tensorjson reads PNG: convert it first (e.g. `magick FILE out.png`) and run \
                 `tensorjson encode out.png`"
            }
            (Kind::Zip, _) => {
                "tensorjson reads one .npy file at a time: unpack it (`unzip FILE`) and run \
                 `tensorjson encode` on a member"
            }
            (Kind::Gzip, Expected::Json) => {
                "decompress it first: `gunzip -c FILE | tensorjson decode`"
            }
            (Kind::Gzip, Expected::NpyOrPng) => {
                "decompress it first: `gunzip -c FILE | tensorjson encode`"
            }
            (Kind::Safetensors, Expected::Json) => {
                "to make JSON of it, run `tensorjson encode FILE`"
            }
            (Kind::Safetensors, Expected::NpyOrPng) => "tensorjson reads it",
            (Kind::Utf16, _) => "convert it to UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 FILE`)",
            (Kind::Json, Expected::NpyOrPng) => "to read JSON, use `tensorjson decode`",
            (Kind::Json, Expected::Json) => "tensorjson reads it",
        }
    }

    /// What was found, for an error message: the kind and the advice.
    pub fn found(self, expected: Expected) -> String {
        format!("{}; {}", self.describe(), self.advice(expected))
    }
}

/// Where the JSON text of an input starts, past a UTF-8 byte-order mark if there is one; an
/// error naming the input if its first bytes show it is something else.
pub fn json_start(head: &[u8]) -> Result<usize> {
    if head.starts_with(UTF8_BOM) {
        return Ok(UTF8_BOM.len());
    }
    match sniff(head) {
        None | Some(Kind::Json) => Ok(0),
        Some(kind) => Err(Error::NotJson {
            found: kind.found(Expected::Json),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_told_by_its_first_bytes() {
        let mut safetensors = 70u64.to_le_bytes().to_vec();
        safetensors.extend_from_slice(b"{\"x\":{\"dtype\":\"F32\"");
        let cases: [(&[u8], Kind); 14] = [
            (b"\x93NUMPY\x01\x00v\x00{'descr'", Kind::Npy),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Kind::Png),
            (b"\xFF\xD8\xFF\xE0\x00\x10JFIF", Kind::Jpeg),
            (b"GIF89a\x01\x00", Kind::Gif),
            (b"PK\x03\x04\x14\x00\x00\x00", Kind::Zip),
            (b"\x1F\x8B\x08\x00", Kind::Gzip),
            (&safetensors[..HEAD], Kind::Safetensors),
            (b"\xFF\xFE{\x00\"\x00", Kind::Utf16),
            (b"\xFE\xFF\x00{\x00\"", Kind::Utf16),
            (b"{\x00\n\x00 \x00", Kind::Utf16),
            (b"\x00[\x001\x00]", Kind::Utf16),
            (b"  \n{\"kind\"", Kind::Json),
            (b"\xEF\xBB\xBF[1, 2]", Kind::Json),
            (b"\"iVBORw0KGgo", Kind::Json),
        ];
        for (head, kind) in cases {
            assert_eq!(
                sniff(head),
                Some(kind),
                "{:?}",
                head.escape_ascii().to_string()
            );
        }
        for unknown in [&b""[..], b"hello", b"5", b"\x00\x00\x00\x00", b"NaN"] {
            assert_eq!(sniff(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn json_starts_past_a_utf8_byte_order_mark() {
        assert_eq!(json_start(b"\xEF\xBB\xBF{}").unwrap(), 3);
        assert_eq!(json_start(b"{}").unwrap(), 0);
        assert_eq!(json_start(b"").unwrap(), 0);
        let error = json_start(b"\x93NUMPY\x01\x00").unwrap_err().to_string();
        assert!(
            error.contains("a .npy file") && error.contains("tensorjson encode"),
            "{error}"
        );
    }

    #[test]
    fn json_is_never_taken_for_safetensors() {
        // Eight bytes of text read as a length are far over the header limit.
        assert_eq!(sniff(b"{\"a\": 1, {\"b\": 2}"), Some(Kind::Json));
        assert_eq!(sniff(b"[[[[[[[[{\"a\":1}]]"), Some(Kind::Json));
    }
}
