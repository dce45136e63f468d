//! PNG files read chunk by chunk: what is refused at once, what is refused past the 1 GiB
//! limit instead of being cut short, and what after the IEND chunk is ignored, checked against
//! the real binary by the failure rules of tests/failures.rs (whose helpers are copied here).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_tensorjson");

/// What an output file holds before a run that must not touch it.
const SENTINEL: &[u8] = b"an earlier output that a failed run must leave alone\n";

/// Address-space limit (KiB) for runs that must not read or allocate what an input claims.
const MEMORY_LIMIT_KIB: u64 = 512 * 1024;

/// Bad inputs must be refused quickly, not after reading gigabytes.
const FAST: Duration = Duration::from_secs(20);

/// The size of the junk after a PNG signature, as in the issue.
const JUNK_BYTES: usize = 100 << 20;

// ---------------------------------------------------------------------------------------
// Helpers (from tests/failures.rs)
// ---------------------------------------------------------------------------------------

fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative);
    fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// A scratch directory in which the binary runs.
struct Scratch {
    dir: TempDir,
}

/// What a finished run left.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("tensorjson-png-")
                .tempdir()
                .expect("scratch directory"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.path(name), bytes).unwrap();
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap()
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).symlink_metadata().is_ok()
    }

    /// Runs the binary with its address space limited to [`MEMORY_LIMIT_KIB`], so that reading
    /// or allocating what a hostile input claims fails instead of being overcommitted.
    fn run_bounded(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ));
        command
            .arg(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_BACKTRACE", "0")
            .timeout(Duration::from_secs(120));
        if let Some(stdin) = stdin {
            command.write_stdin(stdin.to_vec());
        }
        let start = Instant::now();
        let output = command.output().expect("running tensorjson");
        Run {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }

    /// Temporary output files left in the scratch directory.
    fn stray_temporaries(&self) -> Vec<PathBuf> {
        fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with(".tensorjson-") && name.ends_with(".tmp")
            })
            .collect()
    }

    fn assert_no_temporaries(&self, context: &str) {
        let stray = self.stray_temporaries();
        assert!(
            stray.is_empty(),
            "{context}: temporary files left behind: {stray:?}"
        );
    }
}

impl Run {
    /// The rules every failure follows: status, `error:` first, the file named, the
    /// problem described (every phrase present), no panic.
    fn assert_failure(&self, code: i32, names: &str, phrases: &[&str], context: &str) {
        let stderr = &self.stderr;
        assert_eq!(
            self.code,
            Some(code),
            "{context}: exit status (killed by a signal if None); stderr:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error:"),
            "{context}: stderr does not start with `error:`:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "{context}: the binary panicked:\n{stderr}"
        );
        assert!(
            stderr.contains(names),
            "{context}: stderr does not name {names:?}:\n{stderr}"
        );
        for phrase in phrases {
            assert!(
                stderr.contains(phrase),
                "{context}: stderr does not say {phrase:?}:\n{stderr}"
            );
        }
    }

    fn assert_fast(&self, context: &str) {
        assert!(
            self.elapsed < FAST,
            "{context}: took {:?} to fail",
            self.elapsed
        );
    }

    fn assert_success(&self, context: &str) {
        assert_eq!(self.code, Some(0), "{context}: stderr:\n{}", self.stderr);
    }
}

/// Runs `command INPUT -o OUTPUT` on a bad input three ways, with memory bounded: to a new
/// output file, over an existing output file, and from standard input (`-`); each must fail
/// by the rules, and fast.
fn check_bad_input(
    command: &[&str],
    input_name: &str,
    input: &[u8],
    output_name: &str,
    phrases: &[&str],
) {
    let scratch = Scratch::new();
    scratch.write(input_name, input);
    let run =
        |args: &[&str], stdin: Option<&[u8]>| scratch.run_bounded(&[command, args].concat(), stdin);
    let command = command.join(" ");

    // 1. To a new file: nothing may appear.
    let context = format!("{command} {input_name} -o {output_name}");
    let first = run(&[input_name, "-o", output_name], None);
    first.assert_failure(1, input_name, phrases, &context);
    first.assert_fast(&context);
    assert!(
        !scratch.exists(output_name),
        "{context}: the output file was left behind"
    );
    scratch.assert_no_temporaries(&context);

    // 2. Over an existing file: it must keep its content.
    scratch.write(output_name, SENTINEL);
    let context = format!("{command} {input_name} -o {output_name} (existing)");
    let second = run(&[input_name, "-o", output_name], None);
    second.assert_failure(1, input_name, phrases, &context);
    assert_eq!(
        scratch.read(output_name),
        SENTINEL,
        "{context}: the existing output file was changed"
    );
    scratch.assert_no_temporaries(&context);
    fs::remove_file(scratch.path(output_name)).unwrap();

    // 3. From standard input: the message names `<stdin>`.
    let context = format!("{command} - -o {output_name} < {input_name}");
    let third = run(&["-", "-o", output_name], Some(input));
    third.assert_failure(1, "<stdin>", phrases, &context);
    third.assert_fast(&context);
    assert!(
        !scratch.exists(output_name),
        "{context}: the output file was left behind"
    );
    scratch.assert_no_temporaries(&context);
}

fn encode_fails(input_name: &str, input: &[u8], phrases: &[&str]) {
    check_bad_input(&["encode"], input_name, input, "out.json", phrases);
}

fn decode_fails(input_name: &str, input: &[u8], phrases: &[&str]) {
    check_bad_input(&["decode"], input_name, input, "out.npy", phrases);
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc.sum().to_be_bytes());
    chunk
}

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
    encode_fails("junk.png", &input, &[&expected]);
}

#[test]
fn a_chunk_longer_than_the_png_specification_allows_is_refused() {
    let mut rest = u32::MAX.to_be_bytes().to_vec();
    rest.extend_from_slice(b"IHDR");
    rest.extend(junk(JUNK_BYTES));
    encode_fails(
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
    encode_fails(
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
    decode_fails(
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
    encode_fails("huge-chunk.png", &input, &[phrase]);
}

#[test]
fn a_base64_png_that_would_pass_1_gib_is_refused_before_its_data() {
    let mut input = signature_and_ihdr();
    input.extend_from_slice(&((1u32 << 31) - 1).to_be_bytes());
    input.extend_from_slice(b"IDAT");
    input.extend(junk(1000));
    let phrase = "the decoded PNG file is larger than the limit of 1073741824 bytes (PNG files are read into memory)";
    decode_fails("huge-chunk.json", &image_json(&input), &[phrase]);
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
    decode_fails(
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
    encode_fails("cut.png", &input, &["invalid PNG", "end of file"]);
}
