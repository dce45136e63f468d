//! What the integration tests share: running the binary in a scratch directory, the rules
//! every failure follows, and `.npy` files built by hand as numpy writes them.
#![allow(dead_code)] // each test file uses its own part

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_tensorjson");

/// What an output file holds before a run that must not touch it.
pub const SENTINEL: &[u8] = b"an earlier output that a failed run must leave alone\n";

/// Address-space limit (KiB) for runs that must not allocate what a header or a
/// decompressor claims; far below the sizes those inputs declare.
pub const MEMORY_LIMIT_KIB: u64 = 512 * 1024;

/// Bad inputs must be refused quickly, not after inflating or reading gigabytes.
pub const FAST: Duration = Duration::from_secs(20);

/// Runs `BIN "$@"` after the shell commands before it (for `ulimit`, `umask`, `>&-`).
pub const SHELL_EXEC: &str = "exec \"$0\" \"$@\"";

/// All a finished child wrote to its piped standard error.
pub fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read as _;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("standard error is piped")
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

pub fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative);
    fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// A scratch directory in which the binary runs.
pub struct Scratch {
    pub dir: TempDir,
}

/// What a finished run left.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("tensorjson-failures-")
                .tempdir()
                .expect("scratch directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, bytes).unwrap();
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap()
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).symlink_metadata().is_ok()
    }

    /// Runs the binary in the scratch directory.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        self.run_with(Command::new(BIN), args, stdin)
    }

    /// Runs the binary with its address space limited to [`MEMORY_LIMIT_KIB`], so that an
    /// allocation of what a hostile header declares fails instead of being overcommitted.
    pub fn run_bounded(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -v {MEMORY_LIMIT_KIB} && {SHELL_EXEC}"));
        command.arg(BIN);
        self.run_with(command, args, stdin)
    }

    pub fn run_with(&self, mut command: Command, args: &[&str], stdin: Option<&[u8]>) -> Run {
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_BACKTRACE", "0")
            .timeout(Duration::from_secs(120));
        if let Some(stdin) = stdin {
            command.write_stdin(stdin.to_vec());
        }
        let start = Instant::now();
        Run::from_output(command.output().expect("running tensorjson"), start)
    }

    /// Runs with standard input redirected from a file of the scratch directory (`< name`).
    pub fn run_redirected(&self, args: &[&str], name: &str) -> Run {
        let file = fs::File::open(self.path(name)).unwrap();
        let mut command = std::process::Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::from(file));
        Run::of(command)
    }

    /// `program` to be run in the scratch directory, with no standard input.
    pub fn command(&self, program: &str) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command
            .current_dir(self.dir.path())
            .env("RUST_BACKTRACE", "0")
            .stdin(std::process::Stdio::null());
        command
    }

    /// Runs the binary with `args` from `sh -c "SETUP; exec BIN ARGS"`.
    pub fn run_after(&self, setup: &str, args: &[&str]) -> Run {
        let mut command = self.command("sh");
        command
            .arg("-c")
            .arg(format!("{setup}; {SHELL_EXEC}"))
            .arg(BIN)
            .args(args);
        Run::of(command)
    }

    /// Temporary output files left anywhere under the scratch directory.
    pub fn stray_temporaries(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if name.starts_with(".tensorjson-") && name.ends_with(".tmp") {
                    found.push(path.clone());
                }
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    pending.push(path);
                }
            }
        }
        found
    }

    pub fn assert_no_temporaries(&self, context: &str) {
        let stray = self.stray_temporaries();
        assert!(
            stray.is_empty(),
            "{context}: temporary files left behind: {stray:?}"
        );
    }
}

impl Run {
    /// Runs `command` to its end.
    pub fn of(mut command: std::process::Command) -> Self {
        let start = Instant::now();
        Run::from_output(command.output().expect("running tensorjson"), start)
    }

    /// What a run that started at `start` gave.
    fn from_output(output: std::process::Output, start: Instant) -> Self {
        Run {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }

    /// The rules every failure follows: status, `error:` first, the file named, the
    /// problem described (every phrase present), no panic, no temporary path named.
    pub fn assert_failure(&self, code: i32, names: &str, phrases: &[&str], context: &str) {
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
        assert!(
            !stderr.contains(".tensorjson-"),
            "{context}: stderr names a temporary file:\n{stderr}"
        );
    }

    /// As [`Run::assert_failure`], without a file to name, and with nothing on standard
    /// output.
    pub fn assert_fails(&self, code: i32, phrases: &[&str], context: &str) {
        let stderr = &self.stderr;
        assert_eq!(
            self.code,
            Some(code),
            "{context}: status; stderr:\n{stderr}"
        );
        assert!(stderr.starts_with("error:"), "{context}:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{context}:\n{stderr}");
        for phrase in phrases {
            assert!(
                stderr.contains(phrase),
                "{context}: stderr does not say {phrase:?}:\n{stderr}"
            );
        }
        assert!(
            self.stdout.is_empty(),
            "{context}: {} bytes written to standard output",
            self.stdout.len()
        );
    }

    pub fn assert_success(&self, context: &str) {
        assert_eq!(self.code, Some(0), "{context}: stderr:\n{}", self.stderr);
    }

    pub fn assert_quiet_success(&self, context: &str) {
        self.assert_success(context);
        assert!(
            self.stderr.is_empty(),
            "{context}: stderr:\n{}",
            self.stderr
        );
    }

    pub fn assert_fast(&self, context: &str) {
        assert!(
            self.elapsed < FAST,
            "{context}: took {:?} to fail",
            self.elapsed
        );
    }
}

/// Whether a run gets its address space limited (see [`Scratch::run_bounded`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unbounded,
    Bounded,
}

/// Runs `command INPUT -o OUTPUT` on a bad input three ways: to a new output file, over an
/// existing output file, and from standard input (`-`); each must fail by the rules.
/// Returns the stderr of the first run.
pub fn check_bad_input(
    command: &[&str],
    input_name: &str,
    input: &[u8],
    output_name: &str,
    phrases: &[&str],
    limit: Limit,
) -> String {
    let scratch = Scratch::new();
    scratch.write(input_name, input);
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let args = [command, args].concat();
        match limit {
            Limit::Unbounded => scratch.run(&args, stdin),
            Limit::Bounded => scratch.run_bounded(&args, stdin),
        }
    };
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
    assert!(
        !scratch.exists(output_name),
        "{context}: the output file was left behind"
    );
    scratch.assert_no_temporaries(&context);

    // The input itself is never touched.
    assert_eq!(scratch.read(input_name), input, "{context}: input changed");
    first.stderr
}

pub fn encode_fails(input_name: &str, input: &[u8], phrases: &[&str]) -> String {
    check_bad_input(
        &["encode"],
        input_name,
        input,
        "out.json",
        phrases,
        Limit::Unbounded,
    )
}

pub fn encode_fails_bounded(input_name: &str, input: &[u8], phrases: &[&str]) -> String {
    check_bad_input(
        &["encode"],
        input_name,
        input,
        "out.json",
        phrases,
        Limit::Bounded,
    )
}

pub fn decode_fails(input_name: &str, input: &[u8], phrases: &[&str]) -> String {
    check_bad_input(
        &["decode"],
        input_name,
        input,
        "out.npy",
        phrases,
        Limit::Unbounded,
    )
}

pub fn decode_fails_bounded(input_name: &str, input: &[u8], phrases: &[&str]) -> String {
    check_bad_input(
        &["decode"],
        input_name,
        input,
        "out.npy",
        phrases,
        Limit::Bounded,
    )
}

/// An `.npy` file: magic, version, little-endian header length, the header text padded with
/// spaces so that the whole header is a multiple of 64 bytes and ends in `\n`, then `data`.
pub fn npy_file(version: (u8, u8), header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version.0 == 1 { 10 } else { 12 };
    let mut text = header.as_bytes().to_vec();
    let unpadded = prefix + text.len() + 1;
    text.resize(text.len() + (64 - unpadded % 64) % 64, b' ');
    text.push(b'\n');
    assert_eq!((prefix + text.len()) % 64, 0);
    let mut file = b"\x93NUMPY".to_vec();
    file.extend_from_slice(&[version.0, version.1]);
    if version.0 == 1 {
        file.extend_from_slice(&u16::try_from(text.len()).unwrap().to_le_bytes());
    } else {
        file.extend_from_slice(&u32::try_from(text.len()).unwrap().to_le_bytes());
    }
    file.extend_from_slice(&text);
    file.extend_from_slice(data);
    file
}

/// A version 1.0 header dict; `descr` is a Python literal (quoted string or list).
pub fn npy_header(descr: &str, fortran: bool, shape: &str) -> String {
    let fortran = if fortran { "True" } else { "False" };
    format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

pub fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    npy_file((1, 0), &npy_header(descr, false, shape), data)
}

/// A PNG chunk: length, type, data, CRC of type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc.sum().to_be_bytes());
    chunk
}

/// The native tensor envelope, parsed strictly.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub kind: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data: String,
}

/// Runs the binary with `stdin` written from another thread: it may write while it reads.
pub fn run(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// Decodes `json` with `extra` options and returns the tensor as the native envelope shows
/// it: dtype, shape and bytes.
pub fn decoded(json: &str, extra: &[&str]) -> (String, Vec<u64>, Vec<u8>) {
    let mut args = vec!["decode", "--to", "npy"];
    args.extend_from_slice(extra);
    let output = run(&args, json.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    let again = run(&["encode"], &output.stdout);
    assert!(again.status.success());
    let envelope: Envelope = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(envelope.kind, "tensor");
    let data = STANDARD.decode(&envelope.data).unwrap();
    (envelope.dtype, envelope.shape, data)
}
