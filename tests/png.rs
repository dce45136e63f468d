//! PNG files read chunk by chunk: what is refused at once, what is refused past the 1 GiB
//! limit instead of being cut short, and what after the IEND chunk is ignored, checked against
//! the real binary by the failure rules of tests/failures.rs (whose helpers are copied here).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The size of the junk after a PNG signature, as in the issue.
const JUNK_BYTES: usize = 100 << 20;

mod common;
use common::*;

/// `length` bytes that look like nothing in particular (a xorshift sequence).
fn junk(length: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(length + 8);
    while bytes.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length);
    bytes
}

fn signature_then(rest: &[u8]) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(rest);
    png
}

/// The fixture's IHDR chunk: the start of a real PNG.
fn signature_and_ihdr() -> Vec<u8> {
    let png = fixture("png/rgb8.png");
    assert_eq!(&png[12..16], b"IHDR");
    png[..8 + 25].to_vec()
}

fn image_json(png: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"kind":"image","format":"png","data":"{}"}}"#,
        STANDARD.encode(png)
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------
// Chunks checked as they are read
// ---------------------------------------------------------------------------------------

#[test]
fn signature_then_100_mb_of_junk_fails_at_the_first_chunk() {
    let input = signature_then(&junk(JUNK_BYTES));
    let kind = input[12..16].escape_ascii().to_string();
    let expected =
        format!("invalid PNG: the chunk at byte 8 has type \"{kind}\", not 4 ASCII letters");
    encode_fails_bounded("junk.png", &input, &[&expected]);
}

#[test]
fn a_chunk_longer_than_the_png_specification_allows_is_refused() {
    let mut rest = u32::MAX.to_be_bytes().to_vec();
    rest.extend_from_slice(b"IHDR");
    rest.extend(junk(JUNK_BYTES));
    encode_fails_bounded(
        "long-chunk.png",
        &signature_then(&rest),
        &["the IHDR chunk at byte 8 declares 4294967295 bytes, over the 2^31-1 a chunk may hold"],
    );
}

#[test]
fn a_bad_chunk_type_after_good_chunks_names_where_it_is() {
    let mut input = signature_and_ihdr();
    input.extend_from_slice(&[0, 0, 0, 4, b'I', b'D', b'A', b'7']);
    input.extend(junk(1000));
    encode_fails_bounded(
        "bad-type.png",
        &input,
        &["the chunk at byte 33 has type \"IDA7\", not 4 ASCII letters"],
    );
}

#[test]
fn base64_png_of_signature_and_junk_fails_at_the_first_chunk() {
    let input = signature_then(&junk(10 << 20));
    let kind = input[12..16].escape_ascii().to_string();
    let expected = format!("the chunk at byte 8 has type \"{kind}\", not 4 ASCII letters");
    decode_fails_bounded(
        "junk.json",
        &image_json(&input),
        &["invalid PNG", &expected],
    );
}

// ---------------------------------------------------------------------------------------
// The 1 GiB limit: refused, never cut short
// ---------------------------------------------------------------------------------------

#[test]
fn a_chunk_that_would_pass_1_gib_is_refused_before_its_data() {
    // A chunk of 2^31-1 bytes after the IHDR: allowed by the PNG specification, but the file
    // would be over 1 GiB; only its first kilobyte is present.
    let mut input = signature_and_ihdr();
    input.extend_from_slice(&((1u32 << 31) - 1).to_be_bytes());
    input.extend_from_slice(b"IDAT");
    input.extend(junk(1000));
    let phrase = "the PNG file is larger than the limit of 1073741824 bytes (PNG files are read into memory)";
    encode_fails_bounded("huge-chunk.png", &input, &[phrase]);
}

#[test]
fn a_base64_png_that_would_pass_1_gib_is_refused_before_its_data() {
    let mut input = signature_and_ihdr();
    input.extend_from_slice(&((1u32 << 31) - 1).to_be_bytes());
    input.extend_from_slice(b"IDAT");
    input.extend(junk(1000));
    let phrase = "the decoded PNG file is larger than the limit of 1073741824 bytes (PNG files are read into memory)";
    decode_fails_bounded("huge-chunk.json", &image_json(&input), &[phrase]);
}

// ---------------------------------------------------------------------------------------
// After IEND
// ---------------------------------------------------------------------------------------

#[test]
fn bytes_after_iend_are_ignored_as_pillow_ignores_them() {
    let png = fixture("png/rgb8.png");
    let mut input = png.clone();
    input.extend(junk(1000));
    let scratch = Scratch::new();
    scratch.write("tail.png", &input);
    for stdin in [None, Some(input.as_slice())] {
        let name = if stdin.is_some() { "-" } else { "tail.png" };
        let run = scratch.run_bounded(&["encode", name], stdin);
        run.assert_success(name);
        let envelope: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let data = STANDARD.decode(envelope["data"].as_str().unwrap()).unwrap();
        assert!(
            data == png,
            "{name}: the envelope is not the file up to IEND"
        );
    }
}

#[test]
fn base64_bytes_after_iend_are_ignored_but_must_be_base64() {
    let png = fixture("png/rgb8.png");
    let mut input = png.clone();
    input.extend(junk(31));
    let scratch = Scratch::new();
    scratch.write("tail.json", &image_json(&input));
    let run = scratch.run_bounded(&["decode", "tail.json", "-o", "out.png"], None);
    run.assert_success("decode tail.json");
    assert!(
        scratch.read("out.png") == png,
        "out.png is not the file up to IEND"
    );

    let mut text = STANDARD.encode(&input);
    assert_eq!(text.len(), 172, "no padding: the last characters are data");
    text.replace_range(170..171, "*");
    let json = format!(r#"{{"kind":"image","format":"png","data":"{text}"}}"#);
    decode_fails_bounded(
        "bad-tail.json",
        json.as_bytes(),
        &["invalid base64 in `data`"],
    );
}

#[test]
fn a_png_without_iend_still_fails_as_cut_short() {
    // Read chunk by chunk, a file that ends early is left to the decoder, which says so.
    let png = fixture("png/rgb8.png");
    let mut input = png[..png.len() - 12].to_vec();
    assert_eq!(png_chunk(b"IEND", b""), png[png.len() - 12..]);
    input.truncate(input.len() - 3);
    encode_fails_bounded("cut.png", &input, &["invalid PNG", "end of file"]);
}
