//! Structured round trips: a tensor built from the fuzz input (any dtype, 0 to 4 dims, at most
//! 64 KiB) is written in every style and read back, and must come back with the same dtype,
//! shape and bytes whenever the write succeeded. A write may refuse (an image-only style, NaN
//! in a list without `allow_nan`, complex in KServe...); a write that succeeds and reads back
//! different is a bug, except for what README documents as lossy (see `list_normalised`).
//! Also: `.npy` write -> read, and, for tensors that can be images, tensor -> PNG -> pixels and
//! the PNG through every image style.
#![no_main]

use libfuzzer_sys::arbitrary::{Result as ArbitraryResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use tensorjson::codec::dialect::{Compression, ReadOptions, WriteOptions};
use tensorjson::codec::io::Plain;
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::{read_binary, read_json, write_binary, write_json, Format, Style};
use tensorjson::{Dtype, Image, Item, Tensor, TensorHeader};

/// Largest tensor data built, in bytes.
const MAX_BYTES: u64 = 64 << 10;
/// Largest single dimension.
const MAX_DIM: u64 = 64;

/// What one run checks, chosen by the first input byte: one check per run keeps runs fast
/// (every payload allocates several MiB of buffers) and lets coverage tell the checks apart.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// `.npy` write, read back.
    Npy,
    /// One JSON style, with default options and with the case's options.
    Json(Style),
    /// The native style, compressed.
    Compressed(Compression),
    /// Tensor -> PNG -> pixels, and the PNG through every image style.
    Image,
}

const CHECKS: [Check; 15] = [
    Check::Npy,
    Check::Json(Style::Native),
    Check::Json(Style::JsonNumpy),
    Check::Json(Style::JsonTricks),
    Check::Json(Style::Kserve),
    Check::Json(Style::TfServing),
    Check::Json(Style::NpyBase64),
    Check::Json(Style::List),
    Check::Json(Style::DataUrl),
    Check::Json(Style::Openai),
    Check::Json(Style::Anthropic),
    Check::Json(Style::Gemini),
    Check::Compressed(Compression::Zlib),
    Check::Compressed(Compression::Gzip),
    Check::Image,
];

#[derive(Debug)]
struct Case {
    check: Check,
    dtype: Dtype,
    shape: Vec<u64>,
    bytes: Vec<u8>,
    /// Options that vary the writers.
    pretty: bool,
    allow_nan: bool,
    name: Option<String>,
    /// Also read each object-shaped document one level down, `{"id":7,"payload":<doc>}`.
    nest: bool,
}

impl Case {
    fn build(mut u: Unstructured) -> ArbitraryResult<Case> {
        let check = *u.choose(&CHECKS)?;
        let dtype = *u.choose(&Dtype::ALL)?;
        let ndim = u.int_in_range(0..=4u8)?;
        let itemsize = dtype.itemsize() as u64;
        let mut shape = Vec::new();
        let mut elements = 1u64;
        for _ in 0..ndim {
            let room = (MAX_BYTES / itemsize / elements.max(1)).min(MAX_DIM);
            let dim = u.int_in_range(0..=room)?;
            elements *= dim;
            shape.push(dim);
        }
        let byte_len = (elements * itemsize) as usize;
        let flags = u.arbitrary::<u8>()?;
        let name = if flags & 4 != 0 {
            let length = u.int_in_range(0..=12usize)?;
            let mut name = String::new();
            for _ in 0..length {
                name.push(u.arbitrary::<char>()?);
            }
            Some(name)
        } else {
            None
        };
        // The rest of the input is the data, repeated (or zeros) to fill the tensor.
        let rest = u.take_rest();
        let bytes = if rest.is_empty() {
            vec![0u8; byte_len]
        } else {
            rest.iter().copied().cycle().take(byte_len).collect()
        };
        Ok(Case {
            check,
            dtype,
            shape,
            bytes,
            pretty: flags & 1 != 0,
            allow_nan: flags & 2 != 0,
            name,
            nest: flags & 8 != 0,
        })
    }

    fn tensor(&self) -> Item<'_> {
        let header = TensorHeader::new(self.dtype, self.shape.clone()).expect("small shape");
        Item::Tensor(Tensor::new(header, Box::new(Plain(&self.bytes[..]))))
    }

    fn shape(&self) -> Vec<usize> {
        self.shape.iter().map(|&dim| dim as usize).collect()
    }
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(600)]);
    if bytes.len() > 600 {
        format!("{text}... ({} bytes)", bytes.len())
    } else {
        text.into_owned()
    }
}

/// Styles whose data is JSON numbers, through `list::write_values`.
fn numbers_style(style: Style, case: &Case) -> bool {
    match style {
        Style::List | Style::Kserve | Style::TfServing => true,
        // json-tricks writes a 0-d array as a bare number, or `{"__complex__": [re, im]}`.
        Style::JsonTricks => case.shape.is_empty(),
        _ => false,
    }
}

/// What a numbers style documents as lossy, applied to the original bytes: NaN written as
/// the `NaN` token (with `allow_nan`) reads back as the canonical NaN, payload and sign lost;
/// and a bool byte other than 0/1 is written `true` and reads back as 1.
fn list_normalised(dtype: Dtype, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match dtype {
        Dtype::Bool => out.iter_mut().for_each(|byte| *byte = (*byte != 0) as u8),
        Dtype::Float16 => {
            for chunk in out.chunks_exact_mut(2) {
                let bits = u16::from_le_bytes([chunk[0], chunk[1]]);
                if bits & 0x7c00 == 0x7c00 && bits & 0x03ff != 0 {
                    // half's from_f64(NaN): the quiet NaN, sign clear.
                    chunk.copy_from_slice(&0x7e00u16.to_le_bytes());
                }
            }
        }
        Dtype::Float32 | Dtype::Complex64 => {
            for chunk in out.chunks_exact_mut(4) {
                let value = f32::from_le_bytes(chunk.try_into().unwrap());
                if value.is_nan() {
                    chunk.copy_from_slice(&(f64::NAN as f32).to_le_bytes());
                }
            }
        }
        Dtype::Float64 | Dtype::Complex128 => {
            for chunk in out.chunks_exact_mut(8) {
                let value = f64::from_le_bytes(chunk.try_into().unwrap());
                if value.is_nan() {
                    chunk.copy_from_slice(&f64::NAN.to_le_bytes());
                }
            }
        }
        _ => {}
    }
    out
}

/// `{"id":7,"payload":<doc>}` for a document that is an object.
fn nested(document: &[u8]) -> Option<Vec<u8>> {
    let trimmed = document.strip_suffix(b"\n").unwrap_or(document);
    if !trimmed.starts_with(b"{") {
        return None;
    }
    let mut out = b"{\"id\":7,\"payload\":".to_vec();
    out.extend_from_slice(trimmed);
    out.extend_from_slice(b"}");
    Some(out)
}

fn read_tensor(document: &[u8], options: &ReadOptions, what: &str) -> (Dtype, Vec<usize>, Vec<u8>) {
    match read_json(document, options) {
        Ok(Item::Tensor(tensor)) => {
            let dtype = tensor.header.dtype;
            let shape = tensor.header.shape.clone();
            let bytes = tensor.into_bytes().unwrap_or_else(|error| {
                panic!(
                    "{what}: written, but its data does not read back: {error}\n{}",
                    shown(document)
                )
            });
            (dtype, shape, bytes)
        }
        Ok(Item::Image(_)) => panic!(
            "{what}: a tensor read back as an image\n{}",
            shown(document)
        ),
        Err(error) => panic!(
            "{what}: written, but does not read back: {error}\n{}",
            shown(document)
        ),
    }
}

fn check_json(case: &Case, style: Style, options: &WriteOptions) {
    let mut out = Vec::new();
    if write_json(case.tensor(), &mut out, style, options).is_err() {
        return;
    }
    let what = format!(
        "style {} {options:?}, {} {:?}",
        style.name(),
        case.dtype,
        case.shape
    );
    // The JSON has no dtype for lists and TF Serving: say it, as `decode --dtype` does.
    let untyped = matches!(style, Style::List | Style::TfServing);
    let read_options = ReadOptions {
        name: options.name.clone().filter(|_| style == Style::Kserve),
        dtype: untyped.then_some(case.dtype),
        ..ReadOptions::default()
    };
    let expected = if numbers_style(style, case) {
        list_normalised(case.dtype, &case.bytes)
    } else {
        case.bytes.clone()
    };
    let mut documents = vec![(out.clone(), what.clone())];
    if case.nest {
        if let Some(document) = nested(&out) {
            documents.push((document, format!("{what}, nested one level down")));
        }
    }
    for (document, what) in documents {
        let (dtype, shape, bytes) = read_tensor(&document, &read_options, &what);
        assert_eq!(
            dtype,
            case.dtype,
            "{what}: dtype changed\n{}",
            shown(&document)
        );
        assert_eq!(
            shape,
            case.shape(),
            "{what}: shape changed\n{}",
            shown(&document)
        );
        assert!(
            bytes == expected,
            "{what}: data changed\n wrote {:02x?}\n  read {:02x?}\n{}",
            &expected[..expected.len().min(64)],
            &bytes[..bytes.len().min(64)],
            shown(&document)
        );
    }
}

fn check_npy(case: &Case) {
    let mut npy = Vec::new();
    write_binary(case.tensor(), &mut npy, Format::Npy, Layout::default())
        .unwrap_or_else(|error| panic!("{} {:?} as .npy: {error}", case.dtype, case.shape));
    let Ok(Item::Tensor(tensor)) = read_binary(&npy[..]) else {
        panic!(
            "{} {:?}: written .npy does not read back\n{}",
            case.dtype,
            case.shape,
            shown(&npy)
        );
    };
    assert_eq!(tensor.header.dtype, case.dtype);
    assert_eq!(tensor.header.shape, case.shape());
    assert!(
        tensor.into_bytes().expect(".npy data reads back") == case.bytes,
        ".npy data changed"
    );
}

/// A uint8/uint16/bool tensor of shape (H, W) or (H, W, C) (or (C, H, W)) becomes a PNG whose
/// pixels are the tensor, and the PNG goes through every image style unchanged.
fn check_image(case: &Case) {
    if !matches!(case.dtype, Dtype::Uint8 | Dtype::Uint16 | Dtype::Bool) {
        return;
    }
    for layout in [Layout::Hwc, Layout::Chw] {
        let (channels, pixels_shape) = match (layout, case.shape.as_slice()) {
            (Layout::Hwc, &[h, w]) => (1, vec![h, w]),
            // A one-channel image is gray, which decodes to (H, W) as README says.
            (Layout::Hwc, &[h, w, c]) => (c, if c == 1 { vec![h, w] } else { vec![h, w, c] }),
            // Pixels written as .npy keep the layout: (C, H, W), gray as (1, H, W).
            (Layout::Chw, &[c, h, w]) => (c, vec![c, h, w]),
            _ => continue,
        };
        let fits = (1..=4).contains(&channels) && pixels_shape.iter().all(|&dim| dim > 0);
        let mut png = Vec::new();
        let written = write_binary(case.tensor(), &mut png, Format::Png, layout);
        let what = format!("{} {:?} as PNG ({layout:?})", case.dtype, case.shape);
        match (fits, written) {
            (true, Ok(())) => {}
            (false, Err(_)) => continue,
            (true, Err(error)) => panic!("{what}: refused: {error}"),
            (false, Ok(())) => panic!("{what}: written, though it is not an image shape"),
        }
        let Ok(Item::Image(image)) = read_binary(&png[..]) else {
            panic!("{what}: the PNG written does not read back");
        };
        // The pixels come back as the tensor was, in its layout, bool as 0/255.
        let mut npy = Vec::new();
        write_binary(Item::Image(image.clone()), &mut npy, Format::Npy, layout)
            .unwrap_or_else(|error| panic!("{what}: pixels: {error}"));
        let Ok(Item::Tensor(pixels)) = read_binary(&npy[..]) else {
            panic!("{what}: pixel .npy does not read back");
        };
        let dtype = if case.dtype == Dtype::Uint16 {
            Dtype::Uint16
        } else {
            Dtype::Uint8
        };
        assert_eq!(pixels.header.dtype, dtype, "{what}");
        let expected_shape: Vec<usize> = pixels_shape.iter().map(|&d| d as usize).collect();
        assert_eq!(pixels.header.shape, expected_shape, "{what}");
        let mut expected = case.bytes.clone();
        if case.dtype == Dtype::Bool {
            expected
                .iter_mut()
                .for_each(|b| *b = if *b == 0 { 0 } else { 255 });
        }
        assert!(
            pixels.into_bytes().expect("pixels read") == expected,
            "{what}: pixels changed"
        );
        check_image_styles(&image, &what);
    }
}

fn check_image_styles(image: &Image, what: &str) {
    for style in Style::ALL {
        let mut out = Vec::new();
        let written = write_json(
            Item::Image(image.clone()),
            &mut out,
            style,
            &WriteOptions::default(),
        );
        let image_style = matches!(
            style,
            Style::Native
                | Style::HandRolled
                | Style::TfServing
                | Style::DataUrl
                | Style::Openai
                | Style::Anthropic
                | Style::Gemini
        );
        let what = format!("{what}, image style {}", style.name());
        match (image_style, written) {
            (true, Ok(())) => {}
            (false, Err(_)) => continue,
            (true, Err(error)) => panic!("{what}: refused: {error}"),
            (false, Ok(())) => panic!("{what}: a tensor-only style wrote an image"),
        }
        match read_json(&out[..], &ReadOptions::default()) {
            Ok(Item::Image(back)) => assert!(back == *image, "{what}: image changed"),
            Ok(Item::Tensor(_)) => panic!("{what}: read back as a tensor\n{}", shown(&out)),
            Err(error) => panic!("{what}: does not read back: {error}\n{}", shown(&out)),
        };
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(case) = Case::build(Unstructured::new(data)) else {
        return;
    };
    run(&case);
});

fn run(case: &Case) {
    match case.check {
        Check::Npy => check_npy(case),
        Check::Json(style) => {
            check_json(case, style, &WriteOptions::default());
            let options = WriteOptions {
                pretty: case.pretty,
                allow_nan: case.allow_nan,
                name: case.name.clone(),
                ..WriteOptions::default()
            };
            if options != WriteOptions::default() {
                check_json(case, style, &options);
            }
        }
        Check::Compressed(compression) => {
            let options = WriteOptions {
                compression: Some(compression),
                ..WriteOptions::default()
            };
            check_json(case, Style::Native, &options);
        }
        Check::Image => check_image(case),
    }
}
