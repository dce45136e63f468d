//! Options that do not apply, inputs given to the wrong command, and inputs whose size shows
//! up front that they are short: checked against the real binary.
//!
//! A usage error exits 2 with a message saying why and the subcommand's usage line, and
//! leaves no output file (an existing one unchanged, no temporary file beside it, nothing on
//! standard output). Bad input exits 1 by the same rules.

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

mod common;
use common::*;

fn native_json(dtype: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"kind":"tensor","dtype":"{dtype}","shape":{shape},"data":"{}"}}"#,
        STANDARD.encode(data)
    )
    .into_bytes()
}

fn image_json(png: &[u8]) -> Vec<u8> {
    format!(r#"{{"image":"{}","format":"PNG"}}"#, STANDARD.encode(png)).into_bytes()
}

/// Runs `args INPUT -o OUTPUT` and `args -` to standard output (for decode with the
/// `--to` OUTPUT's extension names); each must fail with `code` and every phrase, leaving no output anywhere and
/// an existing output file unchanged. `args[0]` is the subcommand.
fn check_fails(code: i32, args: &[&str], input: &[u8], output: &str, phrases: &[&str]) {
    let scratch = Scratch::new();
    scratch.write("in", input);
    let usage = format!("Usage: tensorjson {} ", args[0]);
    let mut phrases = phrases.to_vec();
    if code == 2 {
        phrases.push(&usage);
    }
    let context = format!("{args:?} in -o {output}");
    let to_file = [args, &["in", "-o", output]].concat();
    scratch
        .run(&to_file, None)
        .assert_fails(code, &phrases, &context);
    assert!(!scratch.exists(output), "{context}: output left behind");
    assert!(
        scratch.stray_temporaries().is_empty(),
        "{context}: temporary file left"
    );

    scratch.write(output, SENTINEL);
    scratch
        .run(&to_file, None)
        .assert_fails(code, &phrases, &context);
    assert_eq!(
        fs::read(scratch.path(output)).unwrap(),
        SENTINEL,
        "{context}"
    );
    assert!(
        scratch.stray_temporaries().is_empty(),
        "{context}: temporary file left"
    );

    let mut to_stdout = [args, &["-"]].concat();
    if args[0] == "decode" && !args.contains(&"--to") {
        let format = Path::new(output).extension().unwrap().to_str().unwrap();
        to_stdout.extend(["--to", format]);
    }
    let context = format!("{to_stdout:?} < in");
    let run = scratch.run(&to_stdout, Some(input));
    run.assert_fails(code, &phrases, &context);
}

fn usage_fails(args: &[&str], input: &[u8], output: &str, phrases: &[&str]) {
    check_fails(2, args, input, output, phrases);
}

fn succeeds(args: &[&str], input: &[u8]) -> Vec<u8> {
    let run = Scratch::new().run(args, Some(input));
    assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    run.stdout
}

// ---------------------------------------------------------------------------------------
// decode: options that do not apply
// ---------------------------------------------------------------------------------------

#[test]
fn layout_applies_to_tensor_to_png_and_image_to_npy_only() {
    let tensor = native_json("uint8", "[2,3]", &[0; 6]);
    let phrases = ["--layout chw does not apply", "a tensor written as .npy"];
    usage_fails(&["decode", "--layout", "chw"], &tensor, "out.npy", &phrases);
    let image = image_json(&fixture("png/rgb8.png"));
    let phrases = ["--layout hwc does not apply", "an image written as PNG"];
    usage_fails(&["decode", "--layout", "hwc"], &image, "out.png", &phrases);
    // Also after --cast: the pixels go out in the order they came in.
    let args = [
        "decode", "--layout", "chw", "--cast", "uint16", "--to", "png",
    ];
    usage_fails(&args, &image, "out.png", &["--layout chw does not apply"]);

    let planes = succeeds(&["decode", "--layout", "chw", "--to", "npy"], &image);
    assert!(planes.starts_with(b"\x93NUMPY"));
    let chw = native_json("uint8", "[3,2,2]", &[7; 12]);
    let png = succeeds(&["decode", "--layout", "chw", "--to", "png"], &chw);
    assert!(png.starts_with(b"\x89PNG"));
}

#[test]
fn dtype_is_refused_where_the_document_states_one() {
    let int32 = native_json("int32", "[2]", &[1, 0, 0, 0, 2, 0, 0, 0]);
    let phrases = [
        "--dtype float32 does not apply",
        "states its own dtype, int32",
        "--cast float32",
    ];
    usage_fails(
        &["decode", "--dtype", "float32"],
        &int32,
        "out.npy",
        &phrases,
    );
    // The same dtype as stated is no more used than another one.
    usage_fails(
        &["decode", "--dtype", "int32"],
        &int32,
        "out.npy",
        &phrases[1..2],
    );
    let image = image_json(&fixture("png/rgb8.png"));
    let phrases = ["--dtype uint8 does not apply", "a PNG image"];
    usage_fails(&["decode", "--dtype", "uint8"], &image, "out.npy", &phrases);
    let npy_string = format!("\"{}\"", STANDARD.encode(npy("'<i2'", "(1,)", &[5, 0])));
    let phrases = ["--dtype int8 does not apply", "a .npy file"];
    usage_fails(
        &["decode", "--dtype", "int8"],
        npy_string.as_bytes(),
        "o.npy",
        &phrases,
    );

    // Where the JSON does not say, --dtype is what says.
    for list in [&b"[1, 2]"[..], br#"{"instances": [1, 2]}"#] {
        let out = succeeds(&["decode", "--dtype", "int16", "--to", "npy"], list);
        assert!(out.ends_with(&[1, 0, 2, 0]), "{out:?}");
        assert!(String::from_utf8_lossy(&out).contains("'<i2'"));
    }
}

#[test]
fn dtype_is_refused_before_a_streamed_payload_is_written() {
    // Past the first 256 characters, the data of a top-level envelope streams from the input:
    // the refusal still comes first, with nothing written.
    let big = native_json("int32", "[100000]", &vec![1; 400_000]);
    let phrases = ["--dtype float64 does not apply", "the payload at /data"];
    usage_fails(&["decode", "--dtype", "float64"], &big, "out.npy", &phrases);
}

#[test]
fn shape_needs_dtype_and_a_string_at_path() {
    let raw = format!(r#"{{"result": "{}"}}"#, STANDARD.encode([1u8, 2]));
    let raw = raw.as_bytes();
    let need = |missing: &str| format!("give {missing} too");
    let args = ["decode", "--shape", "2"];
    usage_fails(
        &args,
        raw,
        "out.npy",
        &[
            "--shape applies to raw tensor data",
            &need("--dtype and --path"),
        ],
    );
    let args = ["decode", "--shape", "2", "--path", "/result"];
    usage_fails(&args, raw, "out.npy", &[&need("--dtype")]);
    let args = ["decode", "--shape", "2", "--dtype", "uint8"];
    usage_fails(&args, raw, "out.npy", &[&need("--path")]);

    let args = [
        "decode", "--shape", "2", "--dtype", "uint8", "--path", "/result",
    ];
    let out = succeeds(&[&args[..], &["--to", "npy"]].concat(), raw);
    assert!(out.ends_with(&[1, 2]), "{out:?}");

    let nested = br#"{"result": {"values": [1, 2]}, "other": [3]}"#;
    let args = [
        "decode", "--shape", "2", "--dtype", "uint8", "--path", "/other",
    ];
    let phrases = [
        "--shape does not apply",
        "the value at /other is a JSON list",
    ];
    usage_fails(&args, nested, "out.npy", &phrases);
    let args = [
        "decode", "--shape", "2", "--dtype", "uint8", "--path", "/result",
    ];
    usage_fails(
        &args,
        nested,
        "out.npy",
        &["the value at /result is a JSON object"],
    );
}

#[test]
fn name_is_refused_where_nothing_has_names() {
    let raw = format!(r#"{{"result": "{}"}}"#, STANDARD.encode([1u8, 2]));
    let args = [
        "decode", "--name", "x", "--path", "/result", "--dtype", "uint8", "--shape", "2",
    ];
    let phrases = [
        "--name does not apply",
        "the value at /result is a JSON string",
    ];
    usage_fails(&args, raw.as_bytes(), "out.npy", &phrases);
    let phrases = [
        "--name does not apply",
        "(the whole document) is a JSON list",
    ];
    usage_fails(
        &["decode", "--name", "x", "--dtype", "int8"],
        b"[1, 2]",
        "out.npy",
        &phrases,
    );
}

#[test]
fn name_that_the_one_payload_does_not_have_is_an_error() {
    let envelope = native_json("uint8", "[2]", &[1, 2]);
    let mut keyed = br#"{"logits": "#.to_vec();
    keyed.extend_from_slice(&envelope);
    keyed.push(b'}');
    let phrases = [
        "the document holds 1 payload;",
        "none is named \"probs\"",
        "/logits",
    ];
    check_fails(
        1,
        &["decode", "--name", "probs"],
        &keyed,
        "out.npy",
        &phrases,
    );
    let out = succeeds(&["decode", "--name", "logits", "--to", "npy"], &keyed);
    assert!(out.ends_with(&[1, 2]));

    // A top-level envelope, whose data would stream, is the whole document: no name.
    let big = native_json("uint8", "[1000]", &[9; 1000]);
    let phrases = ["none is named \"probs\"", "\"\" (the whole document)"];
    check_fails(1, &["decode", "--name", "probs"], &big, "out.npy", &phrases);

    // A KServe document names its tensors itself.
    let kserve = br#"{"outputs":[{"name":"probs","shape":[1],"datatype":"INT8","data":[3]}]}"#;
    assert!(succeeds(&["decode", "--name", "probs", "--to", "npy"], kserve).ends_with(&[3]));
    let phrases = ["no tensor named \"x\""];
    check_fails(1, &["decode", "--name", "x"], kserve, "out.npy", &phrases);
}

#[test]
fn cast_to_the_dtype_the_data_has_is_allowed_and_changes_nothing() {
    let json = native_json("int16", "[2]", &[1, 0, 2, 0]);
    let plain = succeeds(&["decode", "--to", "npy"], &json);
    assert_eq!(
        succeeds(&["decode", "--cast", "int16", "--to", "npy"], &json),
        plain
    );
}

// ---------------------------------------------------------------------------------------
// encode: options that do not apply
// ---------------------------------------------------------------------------------------

#[test]
fn encode_options_apply_to_their_styles_only() {
    let tensor = npy("'<f4'", "(2,)", &[0; 8]);
    let png = fixture("png/rgb8.png");
    let cases: [(&[&str], &[u8], &[&str]); 6] = [
        (
            &["encode", "--raw"],
            &png,
            &["--raw does not apply to --style native", "(data-url)"],
        ),
        (
            &["encode", "--name", "x"],
            &tensor,
            &[
                "--name does not apply to --style native",
                "name the tensor (kserve)",
            ],
        ),
        (
            &["encode", "--allow-nan"],
            &tensor,
            &[
                "--allow-nan does not apply to --style native",
                "json-tricks, kserve, tf-serving, list",
            ],
        ),
        (
            &["encode", "--style", "kserve", "--compress", "zlib"],
            &tensor,
            &["--compress does not apply to --style kserve", "(native)"],
        ),
        (
            &["encode", "--style", "kserve", "--pretty"],
            &tensor,
            &["--pretty does not apply to --style kserve", "hand-rolled"],
        ),
        (
            &["encode", "--style", "data-url", "--pretty"],
            &png,
            &["--pretty does not apply to --style data-url"],
        ),
    ];
    for (args, input, phrases) in cases {
        usage_fails(args, input, "out.json", phrases);
    }
    // Refused from the arguments alone, before the input is read: even a missing one.
    let run = Scratch::new().run(&["encode", "--raw", "missing.png"], None);
    run.assert_fails(2, &["--raw does not apply"], "missing input");

    // Where they apply, they are used.
    let url = succeeds(&["encode", "--style", "data-url", "--raw"], &png);
    assert!(url.starts_with(b"data:image/png;base64,"));
    let kserve = succeeds(&["encode", "--style", "kserve", "--name", "x"], &tensor);
    assert!(String::from_utf8_lossy(&kserve).contains(r#""name":"x""#));
}

#[test]
fn encode_options_that_the_item_shows_do_not_apply() {
    // Known only once the input's header is read; still refused before anything is written.
    let png = fixture("png/rgb8.png");
    let phrases = ["--compress does not apply to an image"];
    usage_fails(
        &["encode", "--compress", "zlib"],
        &png,
        "out.json",
        &phrases,
    );
    let matrix = npy("'<f8'", "(1, 1)", &f64::NAN.to_le_bytes());
    let phrases = ["--allow-nan does not apply here", "shape [1, 1] as base64"];
    usage_fails(
        &["encode", "--style", "json-tricks", "--allow-nan"],
        &matrix,
        "o.json",
        &phrases,
    );
    let phrases = ["--allow-nan does not apply here", "an image as base64"];
    usage_fails(
        &["encode", "--style", "tf-serving", "--allow-nan"],
        &png,
        "o.json",
        &phrases,
    );
    let scalar = npy("'<f8'", "()", &f64::NAN.to_le_bytes());
    let out = succeeds(
        &["encode", "--style", "json-tricks", "--allow-nan"],
        &scalar,
    );
    assert!(out.starts_with(br#"{"__ndarray__":NaN"#));
}

// ---------------------------------------------------------------------------------------
// Inputs given to the wrong command
// ---------------------------------------------------------------------------------------

fn safetensors() -> Vec<u8> {
    let header = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[0; 4]);
    file
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(if big_endian { b"\xFE\xFF" } else { b"\xFF\xFE" });
    }
    for unit in text.encode_utf16() {
        let pair = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        bytes.extend_from_slice(&pair);
    }
    bytes
}

#[test]
fn decode_says_what_a_non_json_input_is_and_what_to_run() {
    let json = "[1, 2]";
    let iconv = "convert it to UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 FILE`)";
    let cases: [(Vec<u8>, &[&str]); 11] = [
        (
            fixture("example.npy"),
            &["a .npy file", "run `tensorjson encode FILE`"],
        ),
        (
            fixture("png/rgb8.png"),
            &["a PNG image", "run `tensorjson encode FILE`"],
        ),
        (
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec(),
            &["a JPEG image", "tensorjson reads PNG"],
        ),
        (
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            &["a GIF image", "tensorjson reads PNG"],
        ),
        (
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec(),
            &["a zip archive (an .npz is one)", "unzip"],
        ),
        (
            b"\x1F\x8B\x08\x00\x00\x00\x00\x00".to_vec(),
            &["gzip-compressed data", "gunzip -c FILE | tensorjson decode"],
        ),
        (
            safetensors(),
            &["a safetensors file", "run `tensorjson encode FILE`"],
        ),
        (
            utf16(json, false, true),
            &["UTF-16 text, as PowerShell's `>` writes", iconv],
        ),
        (utf16(json, true, true), &["UTF-16 text", iconv]),
        (utf16(json, false, false), &["UTF-16 text", iconv]),
        (utf16(json, true, false), &["UTF-16 text", iconv]),
    ];
    for (input, phrases) in cases {
        let phrases = [&["expected JSON; found"][..], phrases].concat();
        check_fails(1, &["decode"], &input, "out.npy", &phrases);
    }
}

#[test]
fn a_utf8_byte_order_mark_before_json_is_skipped() {
    let mut json = b"\xEF\xBB\xBF".to_vec();
    json.extend_from_slice(&native_json("uint8", "[2]", &[4, 5]));
    let out = succeeds(&["decode", "--to", "npy"], &json);
    assert!(out.ends_with(&[4, 5]));
    let scratch = Scratch::new();
    scratch.write("bom.json", b"\xEF\xBB\xBF  [[1, 2]]\n");
    let run = scratch.run(
        &["decode", "bom.json", "-o", "out.npy", "--dtype", "uint8"],
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(fs::read(scratch.path("out.npy"))
        .unwrap()
        .ends_with(&[1, 2]));
}

#[test]
fn encode_names_what_it_was_given_instead_of_showing_its_bytes() {
    let cases: [(Vec<u8>, &[&str]); 5] = [
        (
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec(),
            &["a JPEG image", "tensorjson reads PNG"],
        ),
        (
            b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
            &["a zip archive", "unzip"],
        ),
        (
            b"\xEF\xBB\xBF{\"a\": 1}".to_vec(),
            &["JSON text", "tensorjson decode"],
        ),
        (utf16("{}", false, true), &["UTF-16 text"]),
        (
            b"\x1F\x8B\x08\x00".to_vec(),
            &["gzip-compressed data", "gunzip -c FILE | tensorjson encode"],
        ),
    ];
    for (input, phrases) in cases {
        let phrases = [
            &[
                "expected a .npy file",
                "a PNG image or a .safetensors file; found",
            ][..],
            phrases,
        ]
        .concat();
        check_fails(1, &["encode"], &input, "out.json", &phrases);
    }
    // Bytes of no known kind are shown escaped, not as replacement characters.
    let run = Scratch::new().run(&["encode"], Some(b"\xC8\x01\xFFabc"));
    run.assert_fails(1, &[r#"found bytes "\xc8\x01\xffabc""#], "unknown bytes");
    assert!(!run.stderr.contains('\u{FFFD}'), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// A .npy file whose size shows up front that it is short
// ---------------------------------------------------------------------------------------

#[test]
fn a_short_npy_file_fails_before_anything_is_written() {
    // 1 MiB declared, half of it present: more than the output buffer, so that a run that
    // streamed would have written JSON to standard output before failing.
    let declared = 1 << 20;
    let full = npy("'|u1'", &format!("({declared},)"), &vec![7; declared]);
    let short = &full[..full.len() - declared / 2];
    let phrases =
        ["data is shorter (524288 bytes) than shape [1048576] x uint8 declares (1048576 bytes)"];
    let scratch = Scratch::new();
    scratch.write("short.npy", short);
    let run = scratch.run(&["encode", "short.npy"], None);
    run.assert_fails(1, &phrases, "encode short.npy");
    assert!(run.stderr.contains("short.npy"), "{}", run.stderr);
    let run = scratch.run(&["encode", "short.npy", "--style", "list"], None);
    run.assert_fails(1, &phrases, "encode short.npy --style list");
    let run = scratch.run_redirected(&["encode"], "short.npy");
    run.assert_fails(1, &phrases, "encode < short.npy");
    let run = scratch.run(&["encode", "short.npy", "-o", "out.json"], None);
    run.assert_fails(1, &phrases, "encode short.npy -o out.json");
    assert!(!scratch.exists("out.json"));

    // Longer than declared: refused up front too.
    let mut long = full.clone();
    long.extend_from_slice(b"extra");
    scratch.write("long.npy", &long);
    let run = scratch.run(&["encode", "long.npy"], None);
    run.assert_fails(
        1,
        &["data is longer than shape [1048576] x uint8"],
        "encode long.npy",
    );

    // From a pipe the size is not known: the run still fails, after what it wrote.
    let run = scratch.run(&["encode"], Some(short));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains(phrases[0]), "{}", run.stderr);
}
