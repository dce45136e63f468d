//! Documents as users have them (issue 9): a payload anywhere in an application's response,
//! found, listed when there are several, and picked by `--path` or `--name`. Expected bytes
//! are stated here from the payloads the tests build, never taken from tensorjson's output.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

mod common;
use common::*;

/// Runs `decode -o out.npy` on `json` in a scratch directory, which must fail with exit 1,
/// leaving no file; returns the message.
fn fails(json: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), json).unwrap();
    let mut args = vec!["decode", "doc.json", "-o", "out.npy"];
    args.extend_from_slice(extra);
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: doc.json: "), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name != "doc.json")
        .collect();
    assert!(left.is_empty(), "left {left:?}");
    stderr
}

fn envelope(dtype: &str, shape: &str, bytes: &[u8]) -> String {
    let data = STANDARD.encode(bytes);
    format!(r#"{{"kind":"tensor","dtype":"{dtype}","shape":{shape},"data":"{data}"}}"#)
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

fn example_png() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example.png")).unwrap()
}

#[test]
fn an_applications_own_tensor_object_is_read() {
    let bytes = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let json = format!(
        r#"{{"result": "{}", "shape": [2, 3], "dtype": "float32", "latency_ms": 1.5, "status": "ok"}}"#,
        STANDARD.encode(&bytes)
    );
    assert_eq!(
        decoded(&json, &[]),
        ("float32".to_string(), vec![2, 3], bytes)
    );
    // Big-endian as its dtype says.
    let json = r#"{"out": "AAE=", "shape": [1], "dtype": ">u2"}"#;
    assert_eq!(decoded(json, &[]).2, [0x01, 0x00]);
}

#[test]
fn several_payloads_are_listed_and_picked_by_name_or_pointer() {
    let logits = envelope("float32", "[2]", &f32_bytes(&[0.5, -0.5]));
    let argmax = envelope("int64", "[1]", &3i64.to_le_bytes());
    let json = format!(r#"{{"logits": {logits}, "argmax": {argmax}}}"#);
    let message = fails(&json, &[]);
    assert!(
        message.contains("holds 2 payloads; pick one with --path POINTER or --name NAME"),
        "{message}"
    );
    assert!(
        message.contains(r#"/logits (name "logits"): native, float32 [2]"#),
        "{message}"
    );
    assert!(
        message.contains(r#"/argmax (name "argmax"): native, int64 [1]"#),
        "{message}"
    );
    assert_eq!(decoded(&json, &["--name", "argmax"]).2, 3i64.to_le_bytes());
    assert_eq!(
        decoded(&json, &["--path", "/logits"]).2,
        f32_bytes(&[0.5, -0.5])
    );
    let message = fails(&json, &["--name", "probs"]);
    assert!(message.contains(r#"none is named "probs""#), "{message}");
}

#[test]
fn payloads_are_found_at_any_depth_in_objects_and_lists() {
    let one = envelope("uint8", "[2]", &[1, 2]);
    let two = envelope("uint8", "[2]", &[3, 4]);
    let json = format!(r#"{{"result": {{"outputs": {{"probs": {one}}}}}, "took": 3}}"#);
    assert_eq!(decoded(&json, &[]).2, [1, 2]);
    let json = format!(r#"{{"batch": [{one}, {two}]}}"#);
    let message = fails(&json, &[]);
    assert!(message.contains("/batch/0: native, uint8 [2]"), "{message}");
    assert!(message.contains("/batch/1: native, uint8 [2]"), "{message}");
    assert_eq!(decoded(&json, &["--path", "/batch/1"]).2, [3, 4]);
    // A KServe response inside an application's own object, picked by its tensor's name.
    let json = r#"{"model": "m", "response": {"outputs": [
        {"name": "a", "shape": [1], "datatype": "INT8", "data": [7]},
        {"name": "b", "shape": [1], "datatype": "INT8", "data": [-1]}]}}"#;
    assert_eq!(decoded(json, &["--name", "b"]).2, [0xFF]);
    // Keys holding '/' and '~' are escaped in pointers (RFC 6901).
    let json = format!(r#"{{"a/b": {one}, "m~n": {two}}}"#);
    let message = fails(&json, &[]);
    assert!(
        message.contains("/a~1b (name \"a/b\")") && message.contains("/m~0n"),
        "{message}"
    );
    assert_eq!(decoded(&json, &["--path", "/m~0n"]).2, [3, 4]);
}

#[test]
fn images_are_found_as_base64_strings_and_data_urls() {
    let png = example_png();
    let encoded = STANDARD.encode(&png);
    let expected = decoded(&format!(r#""{encoded}""#), &[]);
    let json = format!(r#"{{"mask": "{encoded}", "format": "PNG"}}"#);
    assert_eq!(decoded(&json, &[]), expected);
    let json = format!(r#"{{"image": "data:image/png;base64,{encoded}"}}"#);
    assert_eq!(decoded(&json, &[]), expected);
    // And as the PNG file itself, byte for byte.
    let output = run(&["decode", "--to", "png"], json.as_bytes());
    assert_eq!(output.stdout, png);
}

#[test]
fn path_reads_raw_base64_with_dtype_and_shape() {
    let json = r#"{"r": {"raw": "AQIDBA=="}, "note": "x"}"#;
    let (dtype, shape, data) = decoded(
        json,
        &["--path", "/r/raw", "--dtype", "uint16", "--shape", "2"],
    );
    assert_eq!(
        (dtype.as_str(), shape, data),
        ("uint16", vec![2], vec![1, 2, 3, 4])
    );
    let message = fails(json, &["--path", "/r/raw"]);
    assert!(message.contains("give --dtype and --shape"), "{message}");
    let message = fails(json, &["--path", "/r/missing"]);
    assert!(message.contains(r#"nothing at "/r/missing""#), "{message}");
    let message = fails(json, &["--path", "r/raw"]);
    assert!(message.contains("not a JSON Pointer"), "{message}");
    // A list of numbers at the pointer.
    let json = r#"{"a": {"b": [[1, 2], [3, 4]]}, "c": [5]}"#;
    let (dtype, shape, data) = decoded(json, &["--path", "/a/b", "--dtype", "uint8"]);
    assert_eq!(
        (dtype.as_str(), shape, data),
        ("uint8", vec![2, 2], vec![1, 2, 3, 4])
    );
}

#[test]
fn a_large_payload_deep_in_a_document_waits_in_a_file_not_in_memory() {
    // 48 MiB of base64 three levels down: over what any value may take in memory (16 MiB),
    // and decoded under an address-space limit far below what holding it would need.
    let bytes: Vec<u8> = (0..36u32 << 20).map(|index| (index % 251) as u8).collect();
    let json = format!(
        r#"{{"meta": {{"id": 7}}, "a": {{"b": {{"c": {}}}}}, "latency_ms": 1.5}}"#,
        envelope("uint8", &format!("[{}]", bytes.len()), &bytes)
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), &json).unwrap();
    let script = "ulimit -v 200000; exec \"$0\" decode doc.json -o out.npy";
    let output = Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", script, BIN])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let npy = std::fs::read(dir.path().join("out.npy")).unwrap();
    assert_eq!(&npy[npy.len() - bytes.len()..], &bytes[..]);
}

#[test]
fn long_strings_are_decoded_as_they_arrive_and_errors_kept_for_when_they_are_read() {
    // A long string that is no base64 beside the payload is not an error.
    let note = "Lorem ipsum, dolor sit amet! ".repeat(100_000);
    let one = envelope("uint8", "[2]", &[1, 2]);
    let json = format!(r#"{{"note": "{note}", "result": {one}}}"#);
    assert_eq!(decoded(&json, &[]).2, [1, 2]);
    // json-numpy puts its data first: it waits, decoded; a bad character 2 MiB in is
    // reported where it is, when the data is read.
    let bytes = vec![7u8; 3 << 20];
    let mut text = STANDARD.encode(&bytes);
    text.replace_range(2_000_000..2_000_001, "!");
    let json = format!(
        r#"{{"__numpy__": "{text}", "dtype": "|u1", "shape": [{}]}}"#,
        bytes.len()
    );
    let message = fails(&json, &[]);
    assert!(
        message.contains("invalid base64 in `__numpy__`"),
        "{message}"
    );
    assert!(
        message.contains("'!' (0x21) at offset 2000000"),
        "{message}"
    );
    // And the same bytes, valid, come back exactly, past the in-memory part.
    let json = format!(
        r#"{{"__numpy__": "{}", "dtype": "|u1", "shape": [{}]}}"#,
        STANDARD.encode(&bytes),
        bytes.len()
    );
    assert_eq!(decoded(&json, &[]).2, bytes);
}

#[test]
fn every_list_tensorjson_writes_it_reads_back_at_any_size() {
    // Over 16 MiB of JSON numbers, the most a list once could be, read back under a memory
    // limit far below what parsing it whole takes. Square roots write as 9 or so digits.
    let values: Vec<f32> = (0..2_000_000).map(|index| (index as f32).sqrt()).collect();
    let bytes = f32_bytes(&values);
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("x.npy");
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 2000), }";
    std::fs::write(&npy, npy_file((1, 0), header, &bytes)).unwrap();
    for style in ["kserve", "list"] {
        let json = dir.path().join(format!("{style}.json"));
        let status = Command::new(BIN)
            .args(["encode", "x.npy", "--style", style, "-o"])
            .arg(&json)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "{style}");
        assert!(
            std::fs::metadata(&json).unwrap().len() > 16 << 20,
            "{style}"
        );
        let extra = if style == "kserve" {
            ""
        } else {
            "--dtype float32"
        };
        let script =
            format!("ulimit -v 200000; exec \"$0\" decode {style}.json -o {style}.npy {extra}");
        let output = Command::new("sh")
            .current_dir(dir.path())
            .args(["-c", &script, BIN])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{style}: {stderr}");
        let back = std::fs::read(dir.path().join(format!("{style}.npy"))).unwrap();
        assert_eq!(&back[back.len() - bytes.len()..], &bytes[..], "{style}");
    }
}

#[test]
fn long_lists_are_read_as_numpy_reads_them() {
    // Past 64 KiB a list streams; numpy's rules hold there as for short ones.
    let rows: Vec<String> = (0..20_000)
        .map(|index| format!("[{index},-{index}]"))
        .collect();
    let json = format!("[{}]", rows.join(","));
    let (dtype, shape, data) = decoded(&json, &[]);
    assert_eq!((dtype.as_str(), shape), ("int64", vec![20_000, 2]));
    assert_eq!(
        data[16..32],
        [1i64, -1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()[..]
    );
    // int64 with uint64 is float64, as in numpy.
    let json = format!("[{},18446744073709551615]", vec!["-1"; 30_000].join(","));
    assert_eq!(decoded(&json, &[]).0, "float64");
    let fail = |json: &str, extra: &[&str], phrase: &str| {
        let output = run(
            &[&["decode", "--to", "npy"][..], extra].concat(),
            json.as_bytes(),
        );
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(phrase), "{stderr}");
    };
    let ragged = format!("[{},[1]]", rows.join(","));
    fail(&ragged, &[], "ragged");
    let big = format!(
        "[{},123456789012345678901234567890]",
        vec!["1"; 30_000].join(",")
    );
    fail(&big, &[], "does not fit in 64 bits");
    let over = format!("[{},300]", vec!["1"; 30_000].join(","));
    fail(
        &over,
        &["--dtype", "uint8"],
        "element 30000 (300) is outside the range of uint8",
    );
    // A long list beside the payload is only outlined; the payload is read.
    let one = envelope("uint8", "[2]", &[1, 2]);
    let json = format!(
        r#"{{"noise": [{}], "result": {one}}}"#,
        vec!["0.5"; 30_000].join(",")
    );
    assert_eq!(decoded(&json, &[]).2, [1, 2]);
}

/// Decodes `doc.json` in `dir` to `out.npy`, from the file itself or piped in, with
/// temporary files in `tmpdir`.
fn decode_with_tmpdir(dir: &Path, piped: bool, tmpdir: &Path) -> std::process::Output {
    use std::io::Write as _;
    let input = if piped { "-" } else { "doc.json" };
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["decode", input, "-o", "out.npy"])
        .env("TMPDIR", tmpdir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if piped {
        // A run that fails stops reading, and the rest need not be written.
        let _ = stdin.write_all(&std::fs::read(dir.join("doc.json")).unwrap());
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The `.npy` that [`decode_with_tmpdir`] writes, once it has succeeded; the file is removed
/// for the next run.
fn decoded_npy(dir: &Path, piped: bool, tmpdir: &Path) -> Vec<u8> {
    let output = decode_with_tmpdir(dir, piped, tmpdir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "piped {piped}: {stderr}");
    let npy = std::fs::read(dir.join("out.npy")).unwrap();
    std::fs::remove_file(dir.join("out.npy")).unwrap();
    npy
}

#[test]
fn a_long_list_in_a_file_is_read_again_from_there_not_copied_to_a_temporary_file() {
    // The data first, so that it waits for the datatype; white space between numbers.
    let values: Vec<i32> = (0..200_000).map(|index| index * 7 - 50_000).collect();
    let data: Vec<String> = values.iter().map(i32::to_string).collect();
    let json = format!(
        r#"{{"inputs": [{{"data": [{}], "name": "x", "shape": [200000], "datatype": "INT32"}}]}}"#,
        data.join(", ")
    );
    let expected: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), &json).unwrap();
    let nowhere = dir.path().join("no such directory");
    for (piped, tmpdir) in [(false, &nowhere), (true, &dir.path().to_path_buf())] {
        let npy = decoded_npy(dir.path(), piped, tmpdir);
        assert_eq!(
            &npy[npy.len() - expected.len()..],
            &expected[..],
            "piped {piped}"
        );
    }
    // Piped, the text has nowhere else to wait: the check above could fail.
    let output = decode_with_tmpdir(dir.path(), true, &nowhere);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("temporary file"), "{stderr}");
}

#[test]
fn a_long_list_of_numbers_then_other_values_in_a_file_becomes_values() {
    // Past 64 KiB of numbers, a string: the list was let go, and is read again as values.
    let numbers = vec!["12345"; 30_000].join(" , ");
    let json = format!(
        r#"{{"note": [{numbers} , "end"], "result": {}}}"#,
        envelope("uint8", "[3]", &[4, 5, 6])
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), &json).unwrap();
    let output = decode_with_tmpdir(dir.path(), false, dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let npy = std::fs::read(dir.path().join("out.npy")).unwrap();
    assert_eq!(npy[npy.len() - 3..], [4, 5, 6]);
    // The same from a pipe, where the text was kept.
    assert_eq!(decoded(&json, &[]).2, [4, 5, 6]);
}

#[test]
fn a_long_nested_list_with_white_space_reads_the_same_from_a_file_and_a_pipe() {
    // As Python's json.dump writes it, with `indent=1`: white space between every item
    // and row. From a file the list is read again from there, white space and all.
    let rows: Vec<String> = (0..2)
        .map(|row| {
            let items: Vec<String> = (0..20_000)
                .map(|column| format!("\n  {}", row * 20_000 + column))
                .collect();
            format!("\n [{}\n ]", items.join(","))
        })
        .collect();
    let json = format!("{{\n \"instances\": [{}\n ]\n}}\n", rows.join(","));
    let expected: Vec<u8> = (0..40_000i64).flat_map(|v| v.to_le_bytes()).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), &json).unwrap();
    for piped in [false, true] {
        let npy = decoded_npy(dir.path(), piped, dir.path());
        assert!(
            String::from_utf8_lossy(&npy[..128]).contains("'shape': (2, 20000)"),
            "piped {piped}"
        );
        assert_eq!(
            &npy[npy.len() - expected.len()..],
            &expected[..],
            "piped {piped}"
        );
    }
}

#[test]
fn a_mixed_list_is_measured_without_its_white_space_and_never_cut_short() {
    // 42,000 numbers, each followed by 400 spaces: 17 MB of text in the file, 84 KB as
    // numbers; then a complex number, so that the numbers become values after all.
    let item = format!("1,\n{}", " ".repeat(400));
    let json = format!("[\n{}{{\"__complex__\": [1, 2]}}\n]\n", item.repeat(42_000));
    assert!(json.len() > 16 << 20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.json"), &json).unwrap();
    for piped in [false, true] {
        let npy = decoded_npy(dir.path(), piped, dir.path());
        let header = String::from_utf8_lossy(&npy[..128]).into_owned();
        assert!(
            header.contains("'shape': (42001,)"),
            "piped {piped}: {header}"
        );
        assert!(header.contains("<c16"), "piped {piped}: {header}");
        let last: Vec<u8> = [1f64, 2f64].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(&npy[npy.len() - 16..], &last[..], "piped {piped}");
    }
}
