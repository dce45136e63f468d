//! Every dialect through the model: each style round-trips every dtype it can hold, every pair
//! of styles agrees, and what a style cannot hold is refused with a clear message.

use std::io::Cursor;

use proptest::prelude::*;
use tensorjson::codec::dialect::{ReadOptions, WriteOptions};
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::{self, Format, Style};
use tensorjson::{Dtype, Item, Tensor, TensorHeader};

/// Styles that hold tensors, and whether they keep the dtype themselves (list styles need
/// `--dtype` to read it back).
const TENSOR_STYLES: [(Style, bool); 8] = [
    (Style::Native, true),
    (Style::HandRolled, true),
    (Style::JsonNumpy, true),
    (Style::JsonTricks, true),
    (Style::NpyBase64, true),
    (Style::Kserve, true),
    (Style::TfServing, false),
    (Style::List, false),
];

const IMAGE_STYLES: [Style; 7] = [
    Style::Native,
    Style::HandRolled,
    Style::DataUrl,
    Style::Openai,
    Style::Anthropic,
    Style::Gemini,
    Style::TfServing,
];

fn holds(style: Style, dtype: Dtype, rank: usize) -> bool {
    match style {
        Style::Kserve | Style::List => !dtype.is_complex(),
        Style::TfServing => !dtype.is_complex() && dtype != Dtype::Float16 && rank > 0,
        _ => true,
    }
}

fn tensor(dtype: Dtype, shape: &[u64], bytes: Vec<u8>) -> Item<'static> {
    let header = TensorHeader::new(dtype, shape.to_vec()).unwrap();
    Item::Tensor(Tensor::new(header, Box::new(Cursor::new(bytes))))
}

fn encode(item: Item, style: Style) -> tensorjson::Result<Vec<u8>> {
    let mut json = Vec::new();
    codec::write_json(item, &mut json, style, &WriteOptions::default())?;
    Ok(json)
}

/// Decodes JSON to the model and back to `.npy` data bytes, with the dtype and shape.
fn decode(json: &[u8], dtype: Option<Dtype>) -> (Dtype, Vec<usize>, Vec<u8>) {
    let options = ReadOptions {
        dtype,
        ..ReadOptions::default()
    };
    match codec::read_json(json, &options).unwrap() {
        Item::Tensor(tensor) => {
            let (dtype, shape) = (tensor.header.dtype, tensor.header.shape.clone());
            (dtype, shape, tensor.into_bytes().unwrap())
        }
        Item::Image(_) => panic!("an image"),
    }
}

/// Element bytes that every list style writes exactly: finite floats (the top exponent bit
/// cleared), bools as 0/1.
fn exact_bytes(dtype: Dtype, raw: &[u8]) -> Vec<u8> {
    let mut bytes = raw.to_vec();
    let unit = dtype.swap_unit();
    for scalar in bytes.chunks_mut(unit) {
        if dtype == Dtype::Bool {
            scalar[0] &= 1;
        } else if dtype.is_float() || dtype.is_complex() {
            scalar[unit - 1] &= !0x40;
        }
    }
    bytes
}

fn case() -> impl Strategy<Value = (Dtype, Vec<u64>, Vec<u8>)> {
    let dtype = prop::sample::select(Dtype::ALL.to_vec());
    let shape = prop::collection::vec(0u64..4, 0..4);
    (dtype, shape).prop_flat_map(|(dtype, shape)| {
        let len = shape.iter().product::<u64>() as usize * dtype.itemsize();
        let data = prop::collection::vec(any::<u8>(), len);
        (Just(dtype), Just(shape), data)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_pair_of_styles_agrees_through_the_model((dtype, shape, raw) in case()) {
        let data = exact_bytes(dtype, &raw);
        let dims: Vec<usize> = shape.iter().map(|&dim| dim as usize).collect();
        for (first, first_keeps_dtype) in TENSOR_STYLES {
            for (second, second_keeps_dtype) in TENSOR_STYLES {
                if !holds(first, dtype, dims.len()) || !holds(second, dtype, dims.len()) {
                    continue;
                }
                // TF Serving and lists infer [] as float64, and refuse shapes such as
                // (2, 0, 0) that nested lists cannot show.
                let keeps_dtype = first_keeps_dtype && second_keeps_dtype;
                if !keeps_dtype && dims.contains(&0) {
                    continue;
                }
                let json = encode(tensor(dtype, &shape, data.clone()), first).unwrap();
                // --dtype is for styles that do not state it; the others refuse it.
                let hint = (!first_keeps_dtype).then_some(dtype);
                let (read_dtype, read_shape, bytes) = decode(&json, hint);
                prop_assert_eq!(&read_shape, &dims, "{:?}", first);
                let json = encode(tensor(read_dtype, &shape, bytes), second).unwrap();
                let hint = (!second_keeps_dtype).then_some(dtype);
                let (final_dtype, final_shape, bytes) = decode(&json, hint);
                prop_assert_eq!(final_dtype, dtype, "{:?} -> {:?}", first, second);
                prop_assert_eq!(&final_shape, &dims, "{:?} -> {:?}", first, second);
                prop_assert!(bytes == data, "{:?} -> {:?}: {} bytes differ", first, second, dtype);
            }
        }
    }
}

#[test]
fn image_styles_keep_the_png_bytes() {
    let png = std::fs::read("fixtures/png/rgba8.png").unwrap();
    for style in IMAGE_STYLES {
        let item = codec::read_binary(png.as_slice()).unwrap();
        let json = encode(item, style).unwrap();
        let item = codec::read_json(json.as_slice(), &ReadOptions::default()).unwrap();
        let mut out = Vec::new();
        codec::write_binary(item, &mut out, Format::Png, Layout::Hwc).unwrap();
        assert!(out == png, "{style:?}");
    }
}

#[test]
fn every_style_is_tested() {
    for style in Style::ALL {
        let tested =
            TENSOR_STYLES.iter().any(|(s, _)| *s == style) || IMAGE_STYLES.contains(&style);
        assert!(tested, "{style:?} is in no round trip");
    }
}

fn refusal(item: Item, style: Style, options: &WriteOptions) -> String {
    let mut json = Vec::new();
    codec::write_json(item, &mut json, style, options)
        .unwrap_err()
        .to_string()
}

#[test]
fn what_a_style_cannot_hold_is_refused_with_a_hint() {
    let nan = f32::NAN.to_le_bytes().to_vec();
    let message = refusal(
        tensor(Dtype::Float32, &[1], nan.clone()),
        Style::List,
        &WriteOptions::default(),
    );
    assert!(message.contains("--allow-nan"), "{message}");
    let message = refusal(
        tensor(Dtype::Complex64, &[1], vec![0; 8]),
        Style::Kserve,
        &WriteOptions::default(),
    );
    assert!(message.contains("no datatype for complex64"), "{message}");
    let message = refusal(
        tensor(Dtype::Float16, &[1], vec![0; 2]),
        Style::TfServing,
        &WriteOptions::default(),
    );
    assert!(message.contains("float16"), "{message}");
    let message = refusal(
        tensor(Dtype::Uint8, &[1], vec![0]),
        Style::Openai,
        &WriteOptions::default(),
    );
    assert!(message.contains("holds PNG images"), "{message}");
    let png = std::fs::read("fixtures/png/l8.png").unwrap();
    let image = codec::read_binary(png.as_slice()).unwrap();
    let message = refusal(image, Style::JsonNumpy, &WriteOptions::default());
    assert!(message.contains("not images"), "{message}");
    let zlib = WriteOptions {
        compression: Some(tensorjson::codec::dialect::Compression::Zlib),
        ..WriteOptions::default()
    };
    let message = refusal(tensor(Dtype::Uint8, &[1], vec![0]), Style::NpyBase64, &zlib);
    assert!(
        message.contains("--compress does not apply to --style npy-base64"),
        "{message}"
    );
}

#[test]
fn allow_nan_writes_the_tokens_python_reads_and_they_read_back() {
    let values: Vec<u8> = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let options = WriteOptions {
        allow_nan: true,
        ..WriteOptions::default()
    };
    let mut json = Vec::new();
    codec::write_json(
        tensor(Dtype::Float64, &[4], values),
        &mut json,
        Style::List,
        &options,
    )
    .unwrap();
    assert_eq!(json, b"[NaN,Infinity,-Infinity,-0.0]\n");
    let (dtype, _, bytes) = decode(&json, None);
    assert_eq!(dtype, Dtype::Float64);
    let read: Vec<f64> = bytes
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(read[0].is_nan() && read[1] == f64::INFINITY && read[2] == f64::NEG_INFINITY);
    assert!(read[3] == 0.0 && read[3].is_sign_negative());
}

#[test]
fn kserve_names_pick_a_tensor_and_are_listed_when_missing() {
    let json = br#"{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[1]},
                              {"name":"b","shape":[2],"datatype":"FP32","data":[1.5,2]}]}"#;
    let error = codec::read_json(&json[..], &ReadOptions::default())
        .err()
        .unwrap();
    assert!(
        error.to_string().contains(r#"inputs "a", inputs "b""#),
        "{error}"
    );
    let options = ReadOptions {
        name: Some("b".to_string()),
        ..ReadOptions::default()
    };
    let Item::Tensor(tensor) = codec::read_json(&json[..], &options).unwrap() else {
        panic!()
    };
    assert_eq!(tensor.header.dtype, Dtype::Float32);
    let expected: Vec<u8> = [1.5f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(tensor.into_bytes().unwrap(), expected);
}

#[test]
fn nested_one_level_down_is_found_and_two_are_ambiguous() {
    let envelope = r#"{"kind":"tensor","dtype":"uint8","shape":[2],"data":"AQI="}"#;
    let json = format!(r#"{{"id":"x","payload":{envelope}}}"#);
    let (dtype, shape, bytes) = decode(json.as_bytes(), None);
    assert_eq!((dtype, shape, bytes), (Dtype::Uint8, vec![2], vec![1, 2]));
    let json = format!(r#"{{"a":{envelope},"b":{envelope}}}"#);
    let error = codec::read_json(json.as_bytes(), &ReadOptions::default())
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(message.contains("holds 2 payloads"), "{message}");
    assert!(
        message.contains("/a (name \"a\"): native, uint8 [2]"),
        "{message}"
    );
}

#[test]
fn a_document_in_no_dialect_lists_every_reader() {
    let error = codec::read_json(&br#"{"foo": 1}"#[..], &ReadOptions::default())
        .err()
        .unwrap();
    let message = error.to_string();
    for name in [
        "native",
        "json-numpy",
        "json-tricks",
        "jsonpickle",
        "jdata",
        "kserve",
        "tf-serving",
        "openai",
        "anthropic",
        "gemini",
        "hand-rolled",
        "npy-base64",
        "data-url",
        "list",
    ] {
        assert!(message.contains(name), "{name} missing: {message}");
    }
}

/// One row of fixtures/dialects/INDEX.json, written by fixtures/generate_dialects.py.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Fixture {
    file: String,
    dialect: String,
    expected: Option<String>,
    error: Option<String>,
    args: Vec<String>,
}

#[test]
fn documents_made_by_the_real_libraries_decode_to_their_arrays() {
    let dir = std::path::Path::new("fixtures/dialects");
    let index: Vec<Fixture> =
        serde_json::from_slice(&std::fs::read(dir.join("INDEX.json")).unwrap()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for fixture in &index {
        let extension = match &fixture.expected {
            Some(expected) if expected.ends_with(".png") => "png",
            _ => "npy",
        };
        let out = scratch.path().join(format!("out.{extension}"));
        let _ = std::fs::remove_file(&out);
        let output = assert_cmd::Command::cargo_bin("tensorjson")
            .unwrap()
            .arg("decode")
            .arg(dir.join(&fixture.file))
            .arg("-o")
            .arg(&out)
            .args(&fixture.args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let verdict = match (&fixture.expected, &fixture.error) {
            (Some(expected), None) => {
                let want = std::fs::read(dir.join(expected)).unwrap();
                if !output.status.success() {
                    Some(format!("failed: {stderr}"))
                } else if std::fs::read(&out).unwrap() != want {
                    Some("output differs from the expected file".to_string())
                } else {
                    None
                }
            }
            (None, Some(phrase)) => {
                let refused = output.status.code() == Some(1) && stderr.starts_with("error:");
                (!refused || !stderr.contains(phrase.as_str()) || out.exists())
                    .then(|| format!("expected an error naming {phrase:?}, got: {stderr}"))
            }
            _ => Some("INDEX row needs exactly one of expected and error".to_string()),
        };
        if let Some(problem) = verdict {
            failures.push(format!("{} ({}): {problem}", fixture.file, fixture.dialect));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        index.len(),
        failures.join("\n")
    );
}
