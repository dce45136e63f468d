//! Several tensors in one run: `encode A B`, `NAME=FILE`, `--lines`, and `decode -o DIR/` of
//! documents holding several payloads, JSON Lines and concatenated documents. Expected
//! envelopes and `.npy` files are NumPy's and Pillow's (fixtures/), never this program's own.

mod common;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use common::*;

const INT16: &str = "npy/int16_be_f";
const FLOAT32: &str = "npy/float32_le_c";
const PNG: &str = "png/rgb8";
/// No NaN among its values, for the styles that write numbers.
const UINT8: &str = "npy/uint8_le_c";

/// A scratch directory holding `a.npy` (int16, big-endian, Fortran order), `b.npy`
/// (float32) and `img.png`, all written by NumPy and Pillow.
fn inputs() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("a.npy", &fixture(&format!("{INT16}.npy")));
    scratch.write("b.npy", &fixture(&format!("{FLOAT32}.npy")));
    scratch.write("img.png", &fixture(&format!("{PNG}.png")));
    scratch.write("u.npy", &fixture(&format!("{UINT8}.npy")));
    scratch
}

/// The envelope the fixture generator wrote for a fixture, from Python; for a PNG, with the
/// base64 of the file.
fn expected(stem: &str) -> Value {
    let mut value: Value =
        serde_json::from_slice(&fixture(&format!("{stem}.expected.json"))).unwrap();
    if stem.starts_with("png/") {
        let data = STANDARD.encode(fixture(&format!("{stem}.png")));
        let fields = value.as_object_mut().unwrap();
        fields.insert("kind".into(), "image".into());
        fields.insert("format".into(), "png".into());
        fields.insert("data".into(), data.into());
    }
    value
}

fn json(run: &Run) -> Value {
    run.assert_success("run");
    serde_json::from_slice(&run.stdout).expect("JSON output")
}

#[test]
fn several_inputs_make_an_object_of_envelopes_keyed_by_stem_or_given_name() {
    let scratch = inputs();
    let run = scratch.run(&["encode", "a.npy", "pic=img.png", "b.npy"], None);
    let document = json(&run);
    let object = document.as_object().unwrap();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, ["a", "pic", "b"], "names, in the order given");
    assert_eq!(object["a"], expected(INT16));
    assert_eq!(object["b"], expected(FLOAT32));
    assert_eq!(object["pic"], expected(PNG));
    // Each value is a strict native envelope.
    let _: Envelope = serde_json::from_value(object["b"].clone()).unwrap();
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    inputs: Vec<Input>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Input {
    name: String,
    shape: Vec<u64>,
    datatype: String,
    data: Vec<f64>,
}

#[test]
fn kserve_writes_one_request_with_an_input_per_file() {
    let scratch = inputs();
    let run = scratch.run(
        &[
            "encode",
            "--style",
            "kserve",
            "input_ids=a.npy",
            "mask=u.npy",
        ],
        None,
    );
    run.assert_success("kserve");
    let request: Request = serde_json::from_slice(&run.stdout).unwrap();
    let names: Vec<&str> = request.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["input_ids", "mask"]);
    assert_eq!(request.inputs[0].datatype, "INT16");
    assert_eq!(request.inputs[0].shape, [2, 3, 4]);
    assert_eq!(request.inputs[1].datatype, "UINT8");
    // Read back by name, each is its input bit for bit.
    scratch.write("request.json", &run.stdout);
    for (name, stem) in [("input_ids", INT16), ("mask", UINT8)] {
        let file = format!("{name}.npy");
        let run = scratch.run(
            &["decode", "request.json", "--name", name, "-o", &file],
            None,
        );
        run.assert_success(name);
        let canonical = fixture(&format!("{stem}.canonical.npy"));
        assert_eq!(scratch.read(&file), canonical, "{name}");
    }
}

#[test]
fn tf_serving_writes_named_columnar_inputs() {
    let scratch = inputs();
    let run = scratch.run(
        &["encode", "--style", "tf-serving", "x=u.npy", "y=u.npy"],
        None,
    );
    let document = json(&run);
    let inputs = document["inputs"].as_object().expect("named inputs");
    assert_eq!(inputs.keys().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(inputs["x"], inputs["y"]);
    assert_eq!(
        inputs["x"].as_array().unwrap().len(),
        2,
        "nested by the shape"
    );
}

#[test]
fn lines_write_one_named_document_per_item() {
    let scratch = inputs();
    let run = scratch.run(&["encode", "--lines", "a.npy", "img.png"], None);
    run.assert_success("lines");
    let text = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first: BTreeMap<String, Value> = serde_json::from_str(lines[0]).unwrap();
    let second: BTreeMap<String, Value> = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(first, BTreeMap::from([("a".to_string(), expected(INT16))]));
    assert_eq!(second, BTreeMap::from([("img".to_string(), expected(PNG))]));
}

/// Decodes `input` to `out/` in the scratch directory; the names of the files there.
fn decode_to_directory(scratch: &Scratch, input: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["decode", input, "-o", "out/"];
    args.extend_from_slice(extra);
    scratch.run(&args, None).assert_success(input);
    let mut names: Vec<String> = std::fs::read_dir(scratch.path("out"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn json_lines_decode_to_a_directory_bit_exact() {
    let scratch = inputs();
    let run = scratch.run(&["encode", "--lines", "a.npy", "b.npy", "img.png"], None);
    run.assert_success("encode");
    scratch.write("items.jsonl", &run.stdout);
    let names = decode_to_directory(&scratch, "items.jsonl", &[]);
    assert_eq!(names, ["a.npy", "b.npy", "img.png"]);
    assert_eq!(
        scratch.read("out/a.npy"),
        fixture(&format!("{INT16}.canonical.npy"))
    );
    assert_eq!(
        scratch.read("out/b.npy"),
        fixture(&format!("{FLOAT32}.canonical.npy"))
    );
    assert_eq!(scratch.read("out/img.png"), fixture(&format!("{PNG}.png")));
    scratch.assert_no_temporaries("json lines");
}

#[test]
fn concatenated_documents_and_bare_envelopes_are_named_by_position() {
    let scratch = Scratch::new();
    let a = String::from_utf8(fixture(&format!("{INT16}.expected.json"))).unwrap();
    let b = String::from_utf8(fixture(&format!("{FLOAT32}.expected.json"))).unwrap();
    // No separator at all between the first two, as `jq -c` output may be joined.
    let stream = format!(
        "{}{}\n\n  {{\"named\": {}}}\r\n",
        a.trim(),
        b.trim(),
        a.trim()
    );
    scratch.write("stream.json", stream.as_bytes());
    let names = decode_to_directory(&scratch, "stream.json", &[]);
    assert_eq!(names, ["arr_0.npy", "arr_1.npy", "named.npy"]);
    assert_eq!(
        scratch.read("out/arr_1.npy"),
        fixture(&format!("{FLOAT32}.canonical.npy"))
    );
    assert_eq!(
        scratch.read("out/named.npy"),
        fixture(&format!("{INT16}.canonical.npy"))
    );
}

#[test]
fn a_document_of_several_payloads_decodes_each_by_its_name() {
    let scratch = Scratch::new();
    // A KServe response's tensors are its reader's own; the search goes on beside it.
    let document = serde_json::json!({
        "response": {"outputs": [
            {"name": "logits", "shape": [2], "datatype": "FP32", "data": [0.5, 1.5]},
            {"name": "argmax", "shape": [1], "datatype": "INT64", "data": [1]},
        ]},
        "extra": {"probs": expected(FLOAT32)},
    });
    scratch.write("response.json", document.to_string().as_bytes());
    let names = decode_to_directory(&scratch, "response.json", &[]);
    assert_eq!(names, ["argmax.npy", "logits.npy", "probs.npy"]);
    assert_eq!(
        scratch.read("out/argmax.npy"),
        npy("'<i8'", "(1,)", &1i64.to_le_bytes())
    );
    let logits: Vec<u8> = [0.5f32, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        scratch.read("out/logits.npy"),
        npy("'<f4'", "(2,)", &logits)
    );
}

#[test]
fn to_and_cast_apply_to_every_file() {
    let scratch = inputs();
    let run = scratch.run(&["encode", "img.png", "b.npy"], None);
    scratch.write("two.json", &run.stdout);
    let names = decode_to_directory(&scratch, "two.json", &["--to", "npy", "--cast", "float64"]);
    assert_eq!(names, ["b.npy", "img.npy"]);
    let pixels = fixture(&format!("{PNG}.expected.npy"));
    let header_end = pixels.iter().position(|&b| b == b'\n').unwrap() + 1;
    let doubles: Vec<u8> = pixels[header_end..]
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    let written = scratch.read("out/img.npy");
    assert!(written.ends_with(&doubles), "pixels as float64");
}

/// A document with the given keys, each holding the same small native envelope.
fn keyed(keys: &[&str]) -> Vec<u8> {
    let fields: serde_json::Map<String, Value> = keys
        .iter()
        .map(|key| (key.to_string(), expected(FLOAT32)))
        .collect();
    Value::Object(fields).to_string().into_bytes()
}

#[test]
fn names_that_would_leave_the_directory_are_refused_and_nothing_is_written() {
    let long = "x".repeat(252);
    let cases: [(&str, &str); 6] = [
        ("../escape", "path separator"),
        ("a/b", "path separator"),
        (".hidden", "starts with '.'"),
        ("..", "starts with '.'"),
        ("nul\u{0}byte", "NUL"),
        (&long, "longer than a file name"),
    ];
    for (name, why) in cases {
        let scratch = Scratch::new();
        // The bad name comes second: the first file must not be left behind either.
        scratch.write("bad.json", &keyed(&["fine", name]));
        let run = scratch.run(&["decode", "bad.json", "-o", "out/"], None);
        run.assert_failure(1, "bad.json", &["cannot write an item named", why], name);
        assert!(
            !scratch.exists("out"),
            "{name:?}: the directory it made was left"
        );
        assert!(!scratch.exists("escape.npy"), "{name:?}: escaped");
        scratch.assert_no_temporaries(name);
    }
}

#[test]
fn a_failed_run_leaves_an_existing_directory_as_it_was() {
    let scratch = Scratch::new();
    scratch.write("out/fine.npy", b"old contents");
    scratch.write("out/keep.txt", b"unrelated");
    // Duplicate names across two documents of a stream: the second is refused.
    let mut stream = keyed(&["fine"]);
    stream.push(b'\n');
    stream.extend(keyed(&["fine"]));
    scratch.write("dup.jsonl", &stream);
    let run = scratch.run(&["decode", "dup.jsonl", "-o", "out/"], None);
    run.assert_failure(
        1,
        "dup.jsonl",
        &["two items would be written as \"fine.npy\""],
        "dup",
    );
    assert_eq!(scratch.read("out/fine.npy"), b"old contents");
    assert_eq!(scratch.read("out/keep.txt"), b"unrelated");
    scratch.assert_no_temporaries("dup");
}

#[test]
fn a_bad_document_in_a_stream_is_named_and_nothing_is_written() {
    let scratch = Scratch::new();
    let mut stream = keyed(&["first"]);
    stream.extend_from_slice(
        b"\n{\"kind\": \"tensor\", \"dtype\": \"int8\", \"shape\": [3], \"data\": \"AQI=\"}\n",
    );
    scratch.write("stream.jsonl", &stream);
    let run = scratch.run(&["decode", "stream.jsonl", "-o", "out/"], None);
    run.assert_failure(1, "stream.jsonl", &["data is shorter"], "short data");
    assert!(!scratch.exists("out"));
    scratch.write("broken.jsonl", b"{\"a\": 1}\n{\"b\": ");
    let run = scratch.run(&["decode", "broken.jsonl", "-o", "out/"], None);
    run.assert_failure(
        1,
        "broken.jsonl",
        &["document 1"],
        "no payload in document 1",
    );
    assert!(!scratch.exists("out"));
}

#[test]
fn max_bytes_counts_the_whole_bundle() {
    let scratch = Scratch::new();
    // Each holds 96 bytes (float32, shape (2, 3, 4)); 150 admits one, not two.
    scratch.write("two.json", &keyed(&["one", "two"]));
    let run = scratch.run(
        &["decode", "two.json", "-o", "out/", "--max-bytes", "150"],
        None,
    );
    run.assert_failure(
        1,
        "two.json",
        &[
            "item \"two\"",
            "the data of the first 2 items is 192 bytes, over the limit of 150",
        ],
        "bundle limit",
    );
    assert!(!scratch.exists("out"));
    let run = scratch.run(
        &["decode", "two.json", "-o", "out/", "--max-bytes", "192"],
        None,
    );
    run.assert_success("at the limit");
}

#[test]
fn a_stream_to_one_file_says_how_to_read_every_document() {
    let scratch = Scratch::new();
    let mut stream = keyed(&["a"]);
    stream.push(b'\n');
    stream.extend(keyed(&["b"]));
    scratch.write("two.jsonl", &stream);
    let run = scratch.run(&["decode", "two.jsonl", "-o", "one.npy"], None);
    run.assert_failure(
        1,
        "two.jsonl",
        &["another document follows", "-o DIR/"],
        "stream",
    );
    assert!(!scratch.exists("one.npy"));
    let run = scratch.run(&["decode", "two.jsonl", "--to", "npy"], None);
    run.assert_fails(1, &["another document follows"], "stream to stdout");
}

#[test]
fn options_that_cannot_apply_to_several_items_are_usage_errors() {
    let scratch = inputs();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--style", "list", "a.npy", "b.npy"],
            "a list holds one array",
        ),
        (
            &["--style", "kserve", "--name", "x", "a.npy", "b.npy"],
            "--name names a single",
        ),
        (
            &["--style", "data-url", "--raw", "img.png", "img.png"],
            "--raw writes one",
        ),
        (
            &["--pretty", "--lines", "a.npy"],
            "--lines writes one a line",
        ),
        (&["-", "-"], "standard input (-) can be read only once"),
    ];
    for (args, phrase) in cases {
        let mut full = vec!["encode"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "out.json"]);
        let run = scratch.run(&full, Some(b""));
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(phrase), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Usage: tensorjson encode"),
            "{}",
            run.stderr
        );
        assert!(!scratch.exists("out.json"), "{args:?}: output left");
        scratch.assert_no_temporaries("usage");
    }
}

#[test]
fn duplicate_names_on_encode_are_refused_before_the_output_appears() {
    let scratch = inputs();
    let run = scratch.run(&["encode", "a.npy", "a=b.npy", "-o", "out.json"], None);
    run.assert_failure(1, "b.npy", &["two items are named \"a\""], "duplicate");
    assert!(!scratch.exists("out.json"));
    scratch.assert_no_temporaries("duplicate");
}

#[test]
fn a_file_whose_name_holds_an_equals_sign_is_a_file() {
    let scratch = inputs();
    scratch.write("k=v.npy", &fixture(&format!("{FLOAT32}.npy")));
    let run = scratch.run(&["encode", "k=v.npy", "x=k=v.npy"], None);
    let document = json(&run);
    let keys: Vec<&String> = document.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["k=v", "x"]);
}

const SAFETENSORS: &str = "safetensors";

#[test]
fn a_safetensors_file_goes_to_json_and_back_byte_for_byte() {
    let scratch = Scratch::new();
    // Files written by the safetensors package's save_file (fixtures/generate_safetensors.py).
    for stem in [
        "several",
        "all_dtypes",
        "metadata",
        "scalar",
        "empty",
        "no_tensors",
    ] {
        let original = fixture(&format!("{SAFETENSORS}/{stem}.safetensors"));
        scratch.write("in.safetensors", &original);
        let run = scratch.run(&["encode", "in.safetensors", "-o", "x.json"], None);
        run.assert_success(stem);
        let run = scratch.run(&["decode", "x.json", "-o", "out.safetensors"], None);
        run.assert_success(stem);
        assert_eq!(scratch.read("out.safetensors"), original, "{stem}");
    }
}

#[test]
fn safetensors_tensors_are_named_items_with_the_arrays_load_file_gives() {
    let scratch = Scratch::new();
    scratch.write(
        "in.safetensors",
        &fixture(&format!("{SAFETENSORS}/metadata.safetensors")),
    );
    let run = scratch.run(&["encode", "in.safetensors"], None);
    let document = json(&run);
    assert_eq!(
        document["__metadata__"],
        serde_json::json!({"format": "np"})
    );
    let w: Envelope = serde_json::from_value(document["w"].clone()).unwrap();
    assert_eq!(
        (w.dtype.as_str(), w.shape.as_slice()),
        ("float32", &[4][..])
    );
    // The array load_file returned, saved by numpy.
    let expected = fixture(&format!("{SAFETENSORS}/metadata.0.expected.npy"));
    let data = STANDARD.decode(&w.data).unwrap();
    assert!(expected.ends_with(&data), "the tensor's bytes");
}

#[test]
fn hostile_safetensors_files_are_refused_with_no_output() {
    let cases = [
        ("bad_overlap", "overlap"),
        ("bad_hole", "hole"),
        ("bad_past_end", "past the end"),
        ("bad_header_length_huge", "a .safetensors file; found bytes"),
        ("bad_bf16", "bfloat16 and float8 are planned"),
        ("bad_nbytes_mismatch", "bytes"),
    ];
    for (stem, phrase) in cases {
        let scratch = Scratch::new();
        scratch.write(
            "in.safetensors",
            &fixture(&format!("{SAFETENSORS}/{stem}.safetensors")),
        );
        let run = scratch.run(&["encode", "in.safetensors", "-o", "out.json"], None);
        run.assert_failure(1, "in.safetensors", &[phrase], stem);
        assert!(!scratch.exists("out.json"), "{stem}: output left");
        scratch.assert_no_temporaries(stem);
    }
}

#[test]
fn a_safetensors_output_is_all_or_nothing() {
    let scratch = Scratch::new();
    scratch.write("out.safetensors", b"old");
    // complex128 has no safetensors dtype: the second item fails after the first was taken.
    let c16 = expected("npy/complex128_le_c");
    let document = serde_json::json!({"ok": expected(FLOAT32), "c": c16});
    scratch.write("in.json", document.to_string().as_bytes());
    let run = scratch.run(&["decode", "in.json", "-o", "out.safetensors"], None);
    run.assert_failure(1, "in.json", &["item \"c\"", "complex128"], "complex128");
    assert_eq!(scratch.read("out.safetensors"), b"old");
    scratch.assert_no_temporaries("complex128");
}

#[test]
fn a_format_of_several_items_to_a_directory_is_a_usage_error() {
    let scratch = Scratch::new();
    scratch.write("two.json", &keyed(&["a", "b"]));
    let run = scratch.run(
        &["decode", "two.json", "-o", "out/", "--to", "safetensors"],
        None,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run
        .stderr
        .contains("--to safetensors writes every item into one file"));
    assert!(!scratch.exists("out"));
}

const NPZ: &str = "npz";

#[test]
fn an_npz_goes_to_json_and_back_as_numpy_wrote_it() {
    let scratch = Scratch::new();
    // savez and savez_compressed archives from numpy (fixtures/generate_npz.py), with each
    // member's .npy as numpy saved it beside them.
    for stem in ["savez", "savez_compressed", "positional", "unusual_names"] {
        scratch.write("in.npz", &fixture(&format!("{NPZ}/{stem}.npz")));
        let run = scratch.run(&["encode", "in.npz", "-o", "x.json"], None);
        run.assert_success(stem);
        let document: Value = serde_json::from_slice(&scratch.read("x.json")).unwrap();
        let names: Vec<String> = document.as_object().unwrap().keys().cloned().collect();
        let run = scratch.run(&["decode", "x.json", "-o", "out/"], None);
        run.assert_success(stem);
        for (index, name) in names.iter().enumerate() {
            let expected = fixture(&format!("{NPZ}/{stem}/{index}.expected.npy"));
            let canonical = scratch.run(&["encode", "-"], Some(&expected));
            scratch.write("expected.json", &canonical.stdout);
            let run = scratch.run(&["decode", "expected.json", "-o", "expected.npy"], None);
            run.assert_success(name);
            assert_eq!(
                scratch.read(&format!("out/{name}.npy")),
                scratch.read("expected.npy"),
                "{stem}: {name}"
            );
        }
        std::fs::remove_dir_all(scratch.path("out")).unwrap();
    }
}

#[test]
fn an_npz_written_keeps_names_order_and_bytes() {
    let scratch = inputs();
    let run = scratch.run(
        &[
            "encode",
            "z=b.npy",
            "a=a.npy",
            "pic=img.png",
            "-o",
            "x.json",
        ],
        None,
    );
    run.assert_success("encode");
    let run = scratch.run(&["decode", "x.json", "-o", "out.npz"], None);
    run.assert_success("decode");
    // Read back member by member, through tensorjson's own npz reader and the CLI.
    let run = scratch.run(&["encode", "out.npz"], None);
    let document = json(&run);
    let keys: Vec<&String> = document.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "pic"]);
    assert_eq!(document["z"], expected(FLOAT32));
    assert_eq!(document["a"], expected(INT16));
    assert_eq!(
        document["pic"]["dtype"], "uint8",
        "an image goes in as its pixels"
    );
}

#[test]
fn hostile_npz_archives_are_refused_with_no_output() {
    let cases = [
        ("bomb", "over the limit of 16777216"),
        ("declared_huge", "--max-bytes"),
        ("data_long", "longer than"),
        ("header_huge_shape", "header declares"),
        ("stored_sizes_differ", "stored uncompressed, yet"),
        ("not_npy", "not an .npy file"),
        ("duplicate", "appears twice"),
        ("bad_crc", "checksum"),
        ("encrypted", "encrypted"),
        ("bzip2", "bzip2"),
    ];
    for (stem, phrase) in cases {
        let scratch = Scratch::new();
        scratch.write("in.npz", &fixture(&format!("{NPZ}/{stem}.npz")));
        let args = ["encode", "in.npz", "-o", "out.json", "--max-bytes", "16M"];
        let run = scratch.run(&args, None);
        run.assert_failure(1, "in.npz", &[phrase], stem);
        assert!(!scratch.exists("out.json"), "{stem}: output left");
        scratch.assert_no_temporaries(stem);
    }
}

#[test]
fn an_npz_reads_the_same_from_a_file_a_redirect_and_a_pipe() {
    let scratch = Scratch::new();
    let archive = fixture(&format!("{NPZ}/savez_compressed.npz"));
    scratch.write("in.npz", &archive);
    let named = scratch.run(&["encode", "in.npz"], None);
    named.assert_success("named");
    // Redirected, the file itself is read at offsets; through a pipe, it is copied first.
    let redirected = scratch.run_redirected(&["encode", "-"], "in.npz");
    redirected.assert_success("redirected");
    let piped = scratch.run(&["encode", "-"], Some(&archive));
    piped.assert_success("piped");
    assert_eq!(redirected.stdout, named.stdout);
    assert_eq!(piped.stdout, named.stdout);
}

/// `decode INPUT -o out/` with no usable directory for temporary files: from `items.jsonl`
/// itself, or with it piped in.
fn decode_with_no_temporary_directory(scratch: &Scratch, piped: bool) -> Run {
    let mut command = scratch.command(BIN);
    command.env("TMPDIR", scratch.path("no such directory"));
    if !piped {
        command.args(["decode", "items.jsonl", "-o", "out/"]);
        return Run::of(command);
    }
    let mut cat = scratch
        .command("cat")
        .arg("items.jsonl")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    command.stdin(cat.stdout.take().unwrap());
    command.args(["decode", "-", "-o", "out/"]);
    let run = Run::of(command);
    cat.wait().unwrap();
    run
}

#[test]
fn a_stream_in_a_file_is_read_again_from_there_not_copied_to_temporary_files() {
    // A byte-order mark, then a json-numpy document (its data before its dtype) and a KServe
    // request with its data first: both wait, and from a file they wait in the file.
    let shorts: Vec<u16> = (0..1_500_000u64)
        .map(|i| (i * 7919 % 65_536) as u16)
        .collect();
    let shorts_bytes: Vec<u8> = shorts.iter().flat_map(|v| v.to_le_bytes()).collect();
    let ints: Vec<i32> = (0..100_000).map(|i| i * 3 - 7).collect();
    let ints_bytes: Vec<u8> = ints.iter().flat_map(|v| v.to_le_bytes()).collect();
    let numbers: Vec<String> = ints.iter().map(i32::to_string).collect();
    let stream = format!(
        "\u{feff}{{\"__numpy__\": \"{}\", \"dtype\": \"<u2\", \"shape\": [{}]}}\n\
         {{\"inputs\": [{{\"data\": [{}], \"name\": \"ints\", \"shape\": [{}], \"datatype\": \"INT32\"}}]}}\n",
        STANDARD.encode(&shorts_bytes),
        shorts.len(),
        numbers.join(","),
        ints.len()
    );
    let scratch = Scratch::new();
    scratch.write("items.jsonl", stream.as_bytes());
    let run = decode_with_no_temporary_directory(&scratch, false);
    run.assert_success("from the file");
    let data = |name: &str, length: usize| {
        let npy = scratch.read(&format!("out/{name}.npy"));
        npy[npy.len() - length..].to_vec()
    };
    assert_eq!(data("arr_0", shorts_bytes.len()), shorts_bytes);
    assert_eq!(data("ints", ints_bytes.len()), ints_bytes);
    // Piped, the text has nowhere else to wait: the run above could have failed.
    std::fs::remove_dir_all(scratch.path("out")).unwrap();
    let run = decode_with_no_temporary_directory(&scratch, true);
    run.assert_failure(1, "-", &["temporary file"], "piped");
}
