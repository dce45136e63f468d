//! Regressions for wrong results a differential campaign against numpy, json-numpy and
//! json-tricks found (issue 12): each case is what the reference library gives, stated here
//! from its documented behaviour, never from tensorjson's own output.

use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

mod common;
use common::*;

/// Runs a command that must succeed and returns its standard output.
fn ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let output = run(args, stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    output.stdout
}

/// Runs a command that must fail with exit 1, writing nothing to standard output, and
/// returns its message.
fn fails(args: &[&str], stdin: &[u8]) -> String {
    let output = run(args, stdin);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "{args:?} wrote {:?}",
        output.stdout
    );
    stderr
}

fn encoded(npy: &[u8]) -> (String, Vec<u64>, Vec<u8>) {
    let envelope: Envelope = serde_json::from_slice(&ok(&["encode"], npy)).unwrap();
    let data = STANDARD.decode(&envelope.data).unwrap();
    (envelope.dtype, envelope.shape, data)
}

#[test]
fn npy_type_codes_read_as_numpy_reads_them() {
    // numpy.dtype("b") is int8; "b1" and "?" are bool. 0xFF as int8 is -1.
    for descr in ["b", "<b", ">b", "=b", "|b", "i1"] {
        let (dtype, _, data) = encoded(&npy(&format!("'{descr}'"), "(2,)", &[0xFF, 0x01]));
        assert_eq!(dtype, "int8", "{descr}");
        assert_eq!(data, [0xFF, 0x01]);
    }
    for descr in ["?", "b1", "|b1"] {
        assert_eq!(
            encoded(&npy(&format!("'{descr}'"), "(1,)", &[1])).0,
            "bool",
            "{descr}"
        );
    }
    // ">h" is big-endian int16: bytes 01 02 are 0x0102, written little-endian.
    let (dtype, _, data) = encoded(&npy("'>h'", "(1,)", &[0x01, 0x02]));
    assert_eq!((dtype.as_str(), data), ("int16", vec![0x02, 0x01]));
    // `l` is this platform's long, 64 bits; `float` and `int` are numpy's float64 and int64.
    for (descr, name) in [
        ("l", "int64"),
        ("float", "float64"),
        ("int", "int64"),
        ("D", "complex128"),
    ] {
        let itemsize = if name == "complex128" { 16 } else { 8 };
        let (dtype, _, _) = encoded(&npy(&format!("'{descr}'"), "(1,)", &vec![0; itemsize]));
        assert_eq!(dtype, name, "{descr}");
    }
    let message = fails(&["encode"], &npy("'<g'", "(1,)", &[0; 16]));
    assert!(message.contains("unsupported dtype \"<g\""), "{message}");
}

#[test]
fn json_numpy_and_dtype_option_read_type_codes_as_numpy() {
    let json = format!(
        r#"{{"__numpy__": "{}", "dtype": "b", "shape": [2]}}"#,
        STANDARD.encode([0xFE, 0x7F])
    );
    let (dtype, _, data) = decoded(&json, &[]);
    assert_eq!((dtype.as_str(), data), ("int8", vec![0xFE, 0x7F]));
    let (dtype, _, data) = decoded("[-1, 2]", &["--dtype", "b"]);
    assert_eq!((dtype.as_str(), data), ("int8", vec![0xFF, 0x02]));
}

#[test]
fn integers_are_exact_and_refused_out_of_range() {
    // numpy.array(json.loads(...), dtype) raises OverflowError for each of these.
    let kserve =
        r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[-9223372036854775809]}]}"#;
    let message = fails(&["decode", "--to", "npy"], kserve.as_bytes());
    assert!(
        message.contains("element 0 (-9223372036854775809) is outside the range of int64"),
        "{message}"
    );
    for (list, dtype) in [
        ("[9223372036854775808]", "int64"),
        ("[18446744073709551616]", "uint64"),
        ("[1, 2, 300]", "uint8"),
    ] {
        let message = fails(
            &["decode", "--to", "npy", "--dtype", dtype],
            list.as_bytes(),
        );
        assert!(
            message.contains(&format!("outside the range of {dtype}")),
            "{message}"
        );
        assert!(message.contains("the document: element"), "{message}");
    }
    // The extremes themselves are exact.
    let (_, _, data) = decoded("[-9223372036854775808, 9223372036854775807]", &[]);
    assert_eq!(data[..8], i64::MIN.to_le_bytes());
    assert_eq!(data[8..], i64::MAX.to_le_bytes());
    let (dtype, _, data) = decoded("[18446744073709551615]", &[]);
    assert_eq!(
        (dtype.as_str(), data),
        ("uint64", u64::MAX.to_le_bytes().to_vec())
    );
}

#[test]
fn integers_past_64_bits_are_refused_not_rounded() {
    // numpy gives an object array for these; tensorjson has no object dtype.
    for list in [
        "[123456789012345678901234567890]",
        "[18446744073709551616]",
        "[-9223372036854775809]",
    ] {
        let message = fails(&["decode", "--to", "npy"], list.as_bytes());
        assert!(message.contains("does not fit in 64 bits"), "{message}");
        assert!(message.contains("--dtype float64"), "{message}");
    }
    // As float64, numpy rounds the Python int correctly: 2**64 is exactly representable.
    let (dtype, _, data) = decoded("[18446744073709551616]", &["--dtype", "float64"]);
    assert_eq!(
        (dtype.as_str(), data),
        ("float64", 18446744073709551616f64.to_le_bytes().to_vec())
    );
}

#[test]
fn minus_zero_integer_is_an_integer_and_huge_floats_are_infinite() {
    // json.loads("[1, -0, 2]") is [1, 0, 2], all ints: numpy infers int64.
    let (dtype, _, data) = decoded("[1, -0, 2]", &[]);
    assert_eq!(dtype, "int64");
    assert_eq!(
        data,
        [1i64, 0, 2]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    );
    // -0.0 stays a float with its sign.
    let (dtype, _, data) = decoded("[-0.0]", &[]);
    assert_eq!(
        (dtype.as_str(), data),
        ("float64", (-0.0f64).to_le_bytes().to_vec())
    );
    // Python reads 1e400 as inf.
    let (_, _, data) = decoded("[1e400, -1e400]", &[]);
    let expected: Vec<u8> = [f64::INFINITY, f64::NEG_INFINITY]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(data, expected);
}

#[test]
fn npy_header_is_padded_as_numpy_save_pads_it() {
    // numpy.save(np.zeros((1,1,100,1000)+(1,)*9, "u1")) writes 100,192 bytes: its header text
    // would end exactly on a multiple of 64, and numpy pads it by a further 64.
    let shape = format!("[1,1,100,1000{}]", ",1".repeat(9));
    let json = format!(
        r#"{{"kind":"tensor","dtype":"uint8","shape":{shape},"data":"{}"}}"#,
        STANDARD.encode(vec![0u8; 100_000])
    );
    let npy = ok(&["decode", "--to", "npy"], json.as_bytes());
    assert_eq!(npy.len(), 100_192);
    assert_eq!(&npy[190..192], b" \n");
}

#[test]
fn shapes_numpy_cannot_hold_are_refused() {
    // numpy allows at most 64 dimensions.
    let rank = |n: usize| format!("[{}]", vec!["1"; n].join(","));
    let json = |shape: &str| {
        format!(r#"{{"kind":"tensor","dtype":"uint8","shape":{shape},"data":"AA=="}}"#)
    };
    let message = fails(&["decode", "--to", "npy"], json(&rank(65)).as_bytes());
    assert!(
        message.contains("65 dimensions; numpy allows at most 64"),
        "{message}"
    );
    ok(&["decode", "--to", "npy"], json(&rank(64)).as_bytes());
    // numpy.empty((0, 2**63)) and numpy.empty((0, 2**62, 2), "u1") are refused too.
    for shape in [
        "[0,9223372036854775808]",
        "[0,4611686018427387904,2]",
        "[0,18446744073709551615]",
    ] {
        let text = format!(r#"{{"kind":"tensor","dtype":"uint8","shape":{shape},"data":""}}"#);
        let message = fails(&["decode", "--to", "npy"], text.as_bytes());
        assert!(message.contains("which numpy refuses"), "{message}");
    }
    let empty = r#"{"kind":"tensor","dtype":"uint8","shape":[0,4611686018427387904],"data":""}"#;
    ok(&["decode", "--to", "npy"], empty.as_bytes());
    let message = fails(
        &["encode"],
        &npy("'|u1'", &format!("({})", vec!["1,"; 65].concat()), &[0]),
    );
    assert!(message.contains("65 dimensions"), "{message}");
}

#[test]
fn json_tricks_zero_d_is_written_as_json_tricks_writes_it() {
    // json_tricks.dumps(np.array(1+2j)) is {"__ndarray__": {"__complex__": [1.0, 2.0]}, ...}.
    let mut data = 1.0f64.to_le_bytes().to_vec();
    data.extend_from_slice(&2.0f64.to_le_bytes());
    let out = ok(
        &["encode", "--style", "json-tricks"],
        &npy("'<c16'", "()", &data),
    );
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        value["__ndarray__"],
        serde_json::json!({"__complex__": [1.0, 2.0]})
    );
    assert_eq!(value["shape"], serde_json::json!([]));
    // A 0-d NaN is refused before anything is written.
    let nan = npy("'<f8'", "()", &f64::NAN.to_le_bytes());
    let message = fails(&["encode", "--style", "json-tricks"], &nan);
    assert!(message.contains("--allow-nan"), "{message}");
    let out = ok(&["encode", "--style", "json-tricks", "--allow-nan"], &nan);
    assert!(out.starts_with(br#"{"__ndarray__":NaN,"#), "{out:?}");
}

#[test]
fn float16_lists_are_written_shortest() {
    // repr(numpy.float16(0.1)) is "0.1", and of 0.333 "0.333".
    let data: Vec<u8> = [0.1f32, 0.333, 65504.0]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let out = ok(&["encode", "--style", "list"], &npy("'<f2'", "(3,)", &data));
    assert_eq!(out, b"[0.1,0.333,65500.0]\n");
}

/// Runs the binary under an address-space limit (KiB), with `args` and `stdin` as a file.
fn run_limited(
    limit_kib: u64,
    args: &[&str],
    input: &[u8],
) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), input).unwrap();
    let script = format!("ulimit -v {limit_kib}; exec \"$0\" \"$@\" < in.json");
    let output = Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", &script, BIN])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), stderr, dir)
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tensorjson-"))
        .collect()
}

#[test]
fn values_beside_the_payload_are_not_built() {
    // 30 MB of lists under keys no reader reads: parsed whole, they took about 17 times
    // that; now only their outline is, and their text waits in bounded memory or a file.
    let list = format!("[{}]", vec!["1.5"; 2_500_000].join(","));
    let json = format!(
        r#"{{"a":{list},"b":{list},"c":{list},"kind":"tensor","dtype":"uint8","shape":[2],"data":"AQI="}}"#
    );
    // Room for the program and its threads' allocator arenas, far below what building the
    // lists took (over 500 MB).
    let (code, stderr, dir) = run_limited(250_000, &["decode", "-o", "out.npy"], json.as_bytes());
    assert_eq!(code, Some(0), "{stderr}");
    let npy = std::fs::read(dir.path().join("out.npy")).unwrap();
    assert_eq!(&npy[npy.len() - 2..], [1, 2]);
    // A large value that is the payload is still read whole, wherever it sits.
    let kserve = format!(
        r#"{{"meta":{list},"inputs":[{{"name":"x","shape":[2,2],"datatype":"INT8","data":[[1,2],[3,-4]]}}]}}"#
    );
    let (_, _, data) = decoded(&kserve, &[]);
    assert_eq!(data, [1, 2, 3, 0xFC]);
    let tricks = format!(r#"{{"__ndarray__":{list},"dtype":"float32","shape":[2500000]}}"#);
    let (dtype, shape, data) = decoded(&tricks, &[]);
    assert_eq!((dtype.as_str(), shape), ("float32", vec![2_500_000]));
    assert!(data.chunks(4).all(|chunk| chunk == 1.5f32.to_le_bytes()));
}

#[test]
fn running_out_of_memory_is_an_error_not_an_abort() {
    // A list that holds a string ("NaN") is built as values, not streamed: three million of
    // them take far more than the 60 MB the run may have.
    let data = format!("[\"NaN\",{}]", vec!["0.25"; 2_999_999].join(","));
    let json = format!(
        r#"{{"inputs":[{{"name":"x","shape":[3000000],"datatype":"FP32","data":{data}}}]}}"#
    );
    let (code, stderr, dir) = run_limited(60_000, &["decode", "-o", "out.npy"], json.as_bytes());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("error: out of memory"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.npy").exists());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn keys_after_a_long_data_string_are_named_as_the_problem() {
    // "compression" after a `data` long enough to be streamed: the documented message, not
    // a length error from reading the zlib bytes as the tensor's own.
    let compressed = STANDARD.encode([0x78u8; 600]);
    let json = format!(
        r#"{{"kind":"tensor","dtype":"uint8","shape":[3000],"data":"{compressed}","compression":"zlib"}}"#
    );
    let output = run(&["decode", "--to", "npy"], json.as_bytes());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("keys after `data` change how it is read"),
        "{stderr}"
    );
    let longer = format!(
        r#"{{"kind":"tensor","dtype":"uint8","shape":[30],"data":"{compressed}","compression":"zlib"}}"#
    );
    let stderr =
        String::from_utf8(run(&["decode", "--to", "npy"], longer.as_bytes()).stderr).unwrap();
    assert!(
        stderr.contains("keys after `data` change how it is read"),
        "{stderr}"
    );
}

#[test]
fn kserve_inputs_and_outputs_are_both_listed() {
    let json = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[1]}],"outputs":[{"name":"logits","shape":[1],"datatype":"INT8","data":[2]}]}"#;
    let message = fails(&["decode", "--to", "npy"], json.as_bytes());
    assert!(
        message.contains(r#"inputs "x", outputs "logits"; pick one with --name"#),
        "{message}"
    );
    assert_eq!(decoded(json, &["--name", "logits"]).2, [2]);
    assert_eq!(decoded(json, &["--name", "x"]).2, [1]);
    let message = fails(&["decode", "--to", "npy", "--name", "y"], json.as_bytes());
    assert!(
        message.contains(r#"no tensor named "y"; the document holds inputs "x", outputs "logits""#),
        "{message}"
    );
}

#[test]
fn messages_say_what_was_found() {
    let cases = [
        // Two TF Serving binary instances are two images, not named inputs.
        (
            r#"{"instances":[{"b64":"iVBORw0KGgo"},{"b64":"iVBORw0KGgo"}]}"#,
            "2 binary values",
        ),
        (
            r#"[{"note":"no payload here, and long enough to be cut short"}]"#,
            "found an object ({",
        ),
        (
            r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":"AACAPwAAAEA="}]}"#,
            "`inputs/0/data`: expected a list of numbers, found a string",
        ),
        ("[1, \"x\"]", "the document: expected numbers or booleans"),
    ];
    for (json, phrase) in cases {
        let message = fails(&["decode", "--to", "npy"], json.as_bytes());
        assert!(message.contains(phrase), "{json}: {message}");
    }
}

#[test]
fn base64_may_mix_the_url_safe_and_standard_alphabets() {
    // Python's urlsafe_b64decode reads "+/" and "-_" alike. Bytes fb ef be encode as "++++"
    // or "----"; ff ff ff as "////" or "____".
    let json = r#"{"kind":"tensor","dtype":"uint8","shape":[6],"data":"++--//__"}"#;
    let (_, _, data) = decoded(json, &[]);
    assert_eq!(data, [0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff]);
}

#[test]
fn float16_from_json_numbers_is_rounded_once_as_numpy_rounds_it() {
    // numpy.array(json.loads(text), dtype=numpy.float16).view(numpy.uint16): going through
    // float32 first would round 1 + 2^-11 + 2^-40 to the tie 1 + 2^-11, and then to 1.0.
    for (text, bits) in [
        ("[1.0004882812500009]", 0x3c01u16),
        ("[1.00048828125]", 0x3c00),
        ("[65519.99]", 0x7bff),
    ] {
        let (_, _, data) = decoded(text, &["--dtype", "float16"]);
        assert_eq!(data, bits.to_le_bytes(), "{text}");
    }
}

#[test]
fn long_lists_refuse_numbers_json_does_not_have() {
    // Past 64 KiB a list streams through its own reader; it must refuse what Python's json
    // refuses (`json.loads("[01]")` and the rest raise), as a short list always did.
    for bad in ["01", "+1", "1.", "-01", ".5", "1e", "0x10"] {
        for (what, document) in [
            ("list", format!("[{}{bad}]", "1.5,".repeat(20_000))),
            (
                "kserve",
                format!(
                    r#"{{"inputs":[{{"name":"x","shape":[20001],"datatype":"FP32","data":[{}{bad}]}}]}}"#,
                    "1.5,".repeat(20_000)
                ),
            ),
        ] {
            let stderr = decode_fails("bad.json", document.as_bytes(), &["invalid JSON"]);
            assert!(stderr.contains("bad.json"), "{what} {bad}: {stderr}");
        }
    }
}
