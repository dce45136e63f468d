//! How a run meets its process's surroundings: signals, resource limits, a closed or full
//! standard output, the mode of a file it replaces, symbolic links, an unusable TMPDIR.
//!
//! Each failure follows the rules of tests/failures.rs: its exit status, a message that
//! starts with `error:` and names the file at fault, no temporary file left behind, and an
//! existing output unchanged.

#![cfg(unix)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

mod common;
use common::*;

/// A `.npy` file of `bytes` uint8 values, whose JSON is about 4/3 as large.
fn npy_of_size(bytes: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..bytes).map(|index| index as u8).collect();
    npy("'|u1'", &format!("({bytes},)"), &data)
}

/// What `encode` writes for `input` to standard output.
fn encoded(scratch: &Scratch, input: &str) -> Vec<u8> {
    let run = scratch.run(&["encode", input], None);
    run.assert_quiet_success(&format!("encode {input}"));
    run.stdout
}

// ---------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------

/// Starts `encode - -o out.json` over an existing out.json, with part of an input sent and
/// standard input held open, so that the run waits with its temporary file in place.
fn encode_waiting_for_input(scratch: &Scratch) -> (Child, std::process::ChildStdin) {
    use std::io::Write;
    scratch.write("out.json", SENTINEL);
    let mut child = scratch
        .command(BIN)
        .args(["encode", "-", "-o", "out.json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tensorjson");
    let mut stdin = child.stdin.take().unwrap();
    let npy = npy_of_size(4 << 20);
    stdin.write_all(&npy[..npy.len() / 2]).unwrap();
    let started = Instant::now();
    while scratch.stray_temporaries().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, stdin)
}

/// Waits for `child` at most 10 s after it was sent `signal`.
fn wait_after(child: &mut Child, signal: &str) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still running 10 s after SIG{signal} (do the tests run with it ignored?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ending_signals_remove_the_temporary_file() {
    // Found in review: only Ctrl-C (SIGINT) removed the temporary file; `kill`, `timeout`,
    // docker and systemd send SIGTERM, a closed terminal SIGHUP.
    for (signal, number) in [("TERM", 15), ("HUP", 1), ("QUIT", 3), ("INT", 2)] {
        let scratch = Scratch::new();
        let (mut child, stdin) = encode_waiting_for_input(&scratch);
        let killed = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -s {signal}");
        let status = wait_after(&mut child, signal);
        drop(stdin);
        let stderr = stderr_of(&mut child);
        assert_eq!(
            status.code(),
            Some(128 + number),
            "SIG{signal}: exit status (killed by the signal if None); stderr:\n{stderr}"
        );
        assert!(stderr.is_empty(), "SIG{signal}: stderr:\n{stderr}");
        scratch.assert_no_temporaries(&format!("SIG{signal}"));
        assert_eq!(scratch.read("out.json"), SENTINEL, "SIG{signal}: out.json");
    }
}

#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    // `nohup` ignores SIGHUP for the run; catching it must not undo that. The run waits for
    // the rest of its input when the signal comes.
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(1000));
    let expected = encoded(&scratch, "x.npy");
    let script = "trap '' HUP
        (head -c 500 x.npy; sleep 2; tail -c +501 x.npy) | \"$0\" encode - -o out.json &
        sleep 1
        kill -s HUP $!
        wait $!";
    let mut command = scratch.command("sh");
    command.args(["-c", script, BIN]);
    Run::of(command).assert_quiet_success("under trap '' HUP");
    assert_eq!(scratch.read("out.json"), expected);
}

// ---------------------------------------------------------------------------------------
// Write errors: a file size limit, a full disk, a closed standard output
// ---------------------------------------------------------------------------------------

#[test]
fn a_file_size_limit_is_a_write_error_naming_the_output() {
    // Found in review: SIGXFSZ killed the run and left its temporary file. 10 blocks are at
    // most 10 KiB; the output is about 130 KiB.
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100_000));
    let limited = "ulimit -f 10";
    let run = scratch.run_after(limited, &["encode", "x.npy", "-o", "out.json"]);
    run.assert_failure(
        1,
        "error: out.json: ",
        &["cannot write", "File too large"],
        "-o",
    );
    assert!(!scratch.exists("out.json"), "out.json was left behind");
    scratch.assert_no_temporaries("ulimit -f, new output");

    scratch.write("out.json", SENTINEL);
    let run = scratch.run_after(limited, &["encode", "x.npy", "-o", "out.json"]);
    run.assert_failure(1, "error: out.json: ", &["File too large"], "-o existing");
    assert_eq!(scratch.read("out.json"), SENTINEL, "out.json was changed");
    scratch.assert_no_temporaries("ulimit -f, existing output");

    let run = scratch.run_after(
        &format!("{limited}; exec > piped.json"),
        &["encode", "x.npy"],
    );
    run.assert_failure(
        1,
        "error: standard output: ",
        &["cannot write", "File too large"],
        "> piped.json",
    );
}

#[test]
fn a_full_disk_on_standard_output_names_it() {
    let scratch = Scratch::new();
    // Past the output buffer, and within it (the error comes at the final flush then); and
    // with zlib on several threads, which stop when the output fails.
    scratch.write("big.npy", &npy_of_size(4 << 20));
    scratch.write("small.npy", &npy_of_size(100));
    for args in [
        &["encode", "big.npy"][..],
        &["encode", "small.npy"][..],
        &["encode", "big.npy", "--compress", "zlib", "--threads", "3"][..],
        &["encode", "big.npy", "--threads", "3"][..],
    ] {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut command = scratch.command(BIN);
        command.args(args).stdout(full);
        let run = Run::of(command);
        run.assert_failure(
            1,
            "error: standard output: cannot write: ",
            &["No space left on device"],
            &format!("{args:?} > /dev/full"),
        );
    }
}

#[test]
fn a_full_device_given_as_output_is_named() {
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100));
    let run = scratch.run(&["encode", "x.npy", "-o", "/dev/full"], None);
    run.assert_failure(
        1,
        "error: /dev/full: cannot write: ",
        &["No space left on device"],
        "-o /dev/full",
    );
}

#[test]
fn standard_output_closed_at_start_is_an_error() {
    // Found in review: `encode x.npy >&-` exited 0 having written nothing anywhere.
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100));
    let run = scratch.run_after("exec >&-", &["encode", "x.npy"]);
    run.assert_failure(
        1,
        "error: standard output: ",
        &["Bad file descriptor"],
        "encode x.npy >&-",
    );
    scratch.write("x.json", &encoded(&scratch, "x.npy"));
    let run = scratch.run_after("exec >&-", &["decode", "x.json", "--to", "npy"]);
    run.assert_failure(1, "error: standard output: ", &[], "decode >&-");

    // Not to be mistaken for these.
    let run = scratch.run_after("exec > /dev/null", &["encode", "x.npy"]);
    run.assert_quiet_success("encode x.npy > /dev/null");
    let run = scratch.run_after("exec >&-", &["encode", "x.npy", "-o", "out.json"]);
    run.assert_quiet_success("encode x.npy -o out.json >&-");
    assert_eq!(scratch.read("out.json"), encoded(&scratch, "x.npy"));
}

// ---------------------------------------------------------------------------------------
// The file replaced
// ---------------------------------------------------------------------------------------

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_replaced_file_keeps_its_mode() {
    // Found in review: a private (0600) output became 0644 when replaced.
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100));
    let expected = encoded(&scratch, "x.npy");
    for existing in [0o600, 0o640, 0o664, 0o444] {
        scratch.write("out.json", SENTINEL);
        let out = scratch.path("out.json");
        fs::set_permissions(&out, fs::Permissions::from_mode(existing)).unwrap();
        // A umask that would narrow the mode if the file were created anew.
        let run = scratch.run_after("umask 077", &["encode", "x.npy", "-o", "out.json"]);
        run.assert_quiet_success(&format!("over a {existing:o} file"));
        assert_eq!(mode(&out), existing, "the mode of a {existing:o} file");
        assert_eq!(scratch.read("out.json"), expected);
        fs::remove_file(&out).unwrap();
    }
    // A new file gets 0666 less the umask, as before.
    let run = scratch.run_after("umask 027", &["encode", "x.npy", "-o", "new.json"]);
    run.assert_quiet_success("new file");
    assert_eq!(mode(&scratch.path("new.json")), 0o640);
    scratch.assert_no_temporaries("modes");
}

#[test]
fn a_dangling_link_gets_its_target_created() {
    // Found in review: a link to a file not yet there was replaced by a regular file.
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100));
    let expected = encoded(&scratch, "x.npy");
    fs::create_dir(scratch.path("data")).unwrap();
    fs::create_dir(scratch.path("links")).unwrap();
    let symlink = |target: &str, link: &str| {
        std::os::unix::fs::symlink(target, scratch.path(link)).unwrap();
    };
    symlink("target.json", "link.json");
    // Relative to the link's own directory, and through a second link.
    symlink("../data/deep.json", "links/deep.json");
    symlink("links/deep.json", "chain.json");
    for (link, target) in [
        ("link.json", "target.json"),
        ("chain.json", "data/deep.json"),
    ] {
        let run = scratch.run(&["encode", "x.npy", "-o", link], None);
        run.assert_quiet_success(&format!("-o {link}"));
        let kind = fs::symlink_metadata(scratch.path(link))
            .unwrap()
            .file_type();
        assert!(kind.is_symlink(), "{link} is no longer a link");
        assert_eq!(scratch.read(target), expected, "{target}");
    }
    assert!(fs::symlink_metadata(scratch.path("links/deep.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    scratch.assert_no_temporaries("dangling links");
}

#[test]
fn a_link_loop_is_refused() {
    let scratch = Scratch::new();
    scratch.write("x.npy", &npy_of_size(100));
    std::os::unix::fs::symlink("loop.json", scratch.path("loop.json")).unwrap();
    let run = scratch.run(&["encode", "x.npy", "-o", "loop.json"], None);
    run.assert_failure(1, "error: loop.json: cannot create", &[], "link loop");
    assert!(fs::symlink_metadata(scratch.path("loop.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    scratch.assert_no_temporaries("link loop");
}

// ---------------------------------------------------------------------------------------
// TMPDIR
// ---------------------------------------------------------------------------------------

/// A json-numpy document whose data (2 MiB of base64, past what is kept in memory) comes
/// before its dtype and shape, so that it is kept aside in a temporary file.
fn json_numpy_data_first() -> Vec<u8> {
    let data: Vec<u8> = (0..3u32 << 19).map(|index| index as u8).collect();
    let text = STANDARD.encode(&data);
    format!(
        r#"{{"__numpy__": "{text}", "dtype": "|u1", "shape": [{}]}}"#,
        data.len()
    )
    .into_bytes()
}

#[test]
fn an_unusable_tmpdir_is_named() {
    // Found in review: the message named only the input: "jn.json: No such file or
    // directory".
    // From a pipe: a file input is read again rather than kept aside.
    let scratch = Scratch::new();
    scratch.write("jn.json", &json_numpy_data_first());
    scratch.write("out.npy", SENTINEL);
    let missing = scratch.path("no-such-dir");
    let piped = |command: &mut Command| {
        let script = "cat jn.json | \"$0\" \"$@\"";
        command.arg("-c").arg(script).arg(BIN);
    };
    let mut command = scratch.command("sh");
    piped(&mut command);
    command
        .args(["decode", "-", "-o", "out.npy"])
        .env("TMPDIR", &missing);
    let run = Run::of(command);
    let directory = format!("cannot create a temporary file in {}", missing.display());
    run.assert_failure(
        1,
        "error: <stdin>: ",
        &[&directory, "TMPDIR", "No such file or directory"],
        "TMPDIR missing",
    );
    assert_eq!(scratch.read("out.npy"), SENTINEL, "out.npy was changed");
    scratch.assert_no_temporaries("TMPDIR missing");

    // A usable one works.
    fs::create_dir(&missing).unwrap();
    let mut command = scratch.command("sh");
    piped(&mut command);
    command
        .args(["decode", "-", "-o", "out.npy", "--quiet"])
        .env("TMPDIR", &missing);
    Run::of(command).assert_quiet_success("TMPDIR present");
    assert_eq!(scratch.read("out.npy").len(), 128 + (3 << 19));
}

#[test]
fn a_payload_before_its_keys_is_read_again_from_a_file_input() {
    // No temporary file is needed (none can be made here), whether the file is named or
    // is standard input, read from its start or from further on, with a byte-order mark
    // and escapes in the base64 (`\/`, as PHP writes it).
    let scratch = Scratch::new();
    let data: Vec<u8> = (0..3u32 << 19)
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    let text = STANDARD.encode(&data).replace('/', "\\/");
    let mut json = b"\xef\xbb\xbf \n".to_vec();
    json.extend_from_slice(
        format!(
            r#"{{"__ndarray__": "b64:{text}", "dtype": "uint8", "shape": [{}]}}"#,
            data.len()
        )
        .as_bytes(),
    );
    scratch.write("jt.json", &json);
    let mut offset = b"junk!".to_vec();
    offset.extend_from_slice(&json);
    scratch.write("offset.json", &offset);
    let missing = scratch.path("no-such-dir");
    for script in [
        "exec \"$0\" decode jt.json --to npy",
        "exec \"$0\" decode - --to npy < jt.json",
        "exec 3< offset.json; dd bs=5 count=1 <&3 2>/dev/null >/dev/null; exec \"$0\" decode - --to npy <&3",
    ] {
        let mut command = scratch.command("sh");
        command.arg("-c").arg(script).arg(BIN).env("TMPDIR", &missing);
        let run = Run::of(command);
        run.assert_quiet_success(script);
        assert!(run.stdout.ends_with(&data), "{script}: wrong data");
        assert_eq!(run.stdout.len(), 128 + data.len(), "{script}");
    }
}

// ---------------------------------------------------------------------------------------
// base64 on several threads
// ---------------------------------------------------------------------------------------

/// Runs `bash -c SCRIPT` (the binary as `$0`) in the scratch directory, killing it after
/// 20 s: a run whose threads wait on each other forever would never end.
fn run_within(scratch: &Scratch, script: &str) -> Run {
    let mut child = scratch
        .command("bash")
        .arg("-c")
        .arg(script)
        .arg(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bash");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{script}: still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stderr = stderr_of(&mut child);
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    Run {
        code: child.wait().unwrap().code(),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

#[test]
fn a_reader_that_stops_early_ends_a_run_on_several_threads() {
    // Many chunks of base64 each way, so that workers are busy when the pipe closes.
    let scratch = Scratch::new();
    scratch.write("big.npy", &npy_of_size(24 << 20));
    scratch.write("big.json", &encoded(&scratch, "big.npy"));
    for command in [
        "encode big.npy --threads 3",
        "decode big.json --to npy --threads 3",
    ] {
        let script = format!("\"$0\" {command} | head -c 100 > /dev/null; exit ${{PIPESTATUS[0]}}");
        let run = run_within(&scratch, &script);
        run.assert_quiet_success(&format!("{command} | head"));
    }
}

#[test]
fn bad_base64_deep_in_a_payload_is_reported_alike_on_any_number_of_threads() {
    let scratch = Scratch::new();
    scratch.write("big.npy", &npy_of_size(24 << 20));
    let mut json = encoded(&scratch, "big.npy");
    let data = json
        .windows(8)
        .position(|window| window == b"\"data\":\"")
        .unwrap()
        + 8;
    // In the fifth chunk of 4 MiB of text, where workers decode.
    json[data + (17 << 20) + 5] = b'!';
    scratch.write("bad.json", &json);
    let mut messages = Vec::new();
    for threads in ["1", "3"] {
        let run = scratch.run(
            &["decode", "bad.json", "--to", "npy", "--threads", threads],
            None,
        );
        run.assert_failure(
            1,
            "error: bad.json",
            &[
                "is not a base64 character",
                &format!("offset {}", (17 << 20) + 5),
            ],
            &format!("--threads {threads}"),
        );
        messages.push(run.stderr);
    }
    assert_eq!(messages[0], messages[1]);
}
