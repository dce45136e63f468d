//! Round trips through the library over dtype x shape x byte order x memory order, with the
//! `.npy` input built here by hand (not by tensorjson's writer).

use base64::Engine as _;
use proptest::prelude::*;
use tensorjson::codec::dialect::Compression;
use tensorjson::codec::dialect::{ReadOptions, WriteOptions};
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::{self, Format, Style};
use tensorjson::{Dtype, Item};

/// A `.npy` file for logical C-order little-endian `data`, stored in the given orders.
fn npy_file(dtype: Dtype, shape: &[usize], data: &[u8], big: bool, fortran: bool) -> Vec<u8> {
    let itemsize = dtype.itemsize();
    let unit = if dtype.name().starts_with("complex") {
        itemsize / 2
    } else {
        itemsize
    };
    let count = data.len() / itemsize;
    let mut stored = vec![0u8; data.len()];
    for c_index in 0..count {
        // Position of this element in the stored order.
        let mut rest = c_index;
        let mut coords = vec![0; shape.len()];
        for axis in (0..shape.len()).rev() {
            coords[axis] = rest % shape[axis];
            rest /= shape[axis];
        }
        let mut offset = 0;
        let mut stride = 1;
        let axes: Vec<usize> = if fortran {
            (0..shape.len()).collect()
        } else {
            (0..shape.len()).rev().collect()
        };
        for axis in axes {
            offset += coords[axis] * stride;
            stride *= shape[axis];
        }
        let mut element = data[c_index * itemsize..(c_index + 1) * itemsize].to_vec();
        if big {
            element.chunks_mut(unit).for_each(<[u8]>::reverse);
        }
        stored[offset * itemsize..(offset + 1) * itemsize].copy_from_slice(&element);
    }
    let order = if itemsize == 1 {
        '|'
    } else if big {
        '>'
    } else {
        '<'
    };
    let descr = format!("{order}{}", &dtype_descr(dtype)[1..]);
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let fortran_text = if fortran { "True" } else { "False" };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran_text}, 'shape': {shape_text}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    file.extend_from_slice(dict.as_bytes());
    file.extend_from_slice(&stored);
    file
}

/// numpy's little-endian descr, spelled out here rather than taken from the library.
fn dtype_descr(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::Bool => "|b1",
        Dtype::Int8 => "|i1",
        Dtype::Int16 => "<i2",
        Dtype::Int32 => "<i4",
        Dtype::Int64 => "<i8",
        Dtype::Uint8 => "|u1",
        Dtype::Uint16 => "<u2",
        Dtype::Uint32 => "<u4",
        Dtype::Uint64 => "<u8",
        Dtype::Float16 => "<f2",
        Dtype::Float32 => "<f4",
        Dtype::Float64 => "<f8",
        Dtype::Complex64 => "<c8",
        Dtype::Complex128 => "<c16",
    }
}

/// The data bytes of an `.npy` file written by tensorjson (C order, little-endian).
fn npy_data(file: &[u8]) -> &[u8] {
    let header_len = u16::from_le_bytes([file[8], file[9]]) as usize;
    &file[10 + header_len..]
}

fn through_json(npy: Vec<u8>, style: Style, options: WriteOptions) -> (Vec<u8>, Vec<u8>) {
    let item = codec::read_binary(npy.as_slice()).unwrap();
    let mut json = Vec::new();
    codec::write_json(item, &mut json, style, &options).unwrap();
    let item = codec::read_json(json.as_slice(), &ReadOptions::default()).unwrap();
    let mut out = Vec::new();
    codec::write_binary(item, &mut out, Format::Npy, Layout::Hwc).unwrap();
    (json, out)
}

fn case() -> impl Strategy<Value = (Dtype, Vec<usize>, Vec<u8>, bool, bool)> {
    let dtype = prop::sample::select(Dtype::ALL.to_vec());
    let shape = prop::collection::vec(0usize..5, 0..5);
    (dtype, shape, any::<bool>(), any::<bool>()).prop_flat_map(|(dtype, shape, big, fortran)| {
        let len = shape.iter().product::<usize>() * dtype.itemsize();
        let data = prop::collection::vec(any::<u8>(), len);
        (Just(dtype), Just(shape), data, Just(big), Just(fortran))
    })
}

proptest! {
    #[test]
    fn npy_to_json_to_npy_is_bit_exact((dtype, shape, data, big, fortran) in case()) {
        let npy = npy_file(dtype, &shape, &data, big, fortran);
        let plain = WriteOptions::default();
        let zlib = WriteOptions { compression: Some(Compression::Zlib), pretty: true, ..WriteOptions::default() };
        for (style, options) in [(Style::Native, plain.clone()), (Style::Native, zlib), (Style::NpyBase64, plain)] {
            let (json, out) = through_json(npy.clone(), style, options);
            prop_assert_eq!(npy_data(&out), data.as_slice());
            let Item::Tensor(tensor) = codec::read_binary(out.as_slice()).unwrap() else {
                panic!("a tensor");
            };
            prop_assert_eq!(tensor.header.dtype, dtype);
            prop_assert_eq!(&tensor.header.shape, &shape);
            prop_assert!(json.ends_with(b"\n"));
        }
    }
}

/// Larger than every chunk size (3 MiB encode, 4 MiB decode, 1 MiB swap and spill buffers).
fn large_case() -> (Vec<u8>, Vec<u8>) {
    let count = 3 << 20;
    let data: Vec<u8> = (0..count * 4u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let npy = npy_file(Dtype::Float32, &[count as usize], &data, true, false);
    (npy, data)
}

#[test]
fn arrays_larger_than_the_chunks_stream_bit_exact() {
    let (npy, data) = large_case();
    let zlib = WriteOptions {
        compression: Some(Compression::Zlib),
        ..WriteOptions::default()
    };
    for (style, options) in [
        (Style::Native, WriteOptions::default()),
        (Style::Native, zlib),
        (Style::NpyBase64, WriteOptions::default()),
        // These put the data first, so it waits in a temporary file.
        (Style::JsonNumpy, WriteOptions::default()),
        (Style::JsonTricks, WriteOptions::default()),
        (Style::HandRolled, WriteOptions::default()),
    ] {
        let (_, out) = through_json(npy.clone(), style, options.clone());
        assert!(npy_data(&out) == data.as_slice(), "{style:?} {options:?}");
    }
}

#[test]
fn gzipped_json_tricks_larger_than_the_chunks_streams_bit_exact() {
    use std::io::Write;
    let (_, data) = large_case();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&data).unwrap();
    let text = base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap());
    let count = data.len() / 4;
    let json = format!(
        r#"{{"__ndarray__":"b64.gz:{text}","dtype":"float32","shape":[{count}],"endian":"little"}}"#
    );
    let item = codec::read_json(json.as_bytes(), &ReadOptions::default()).unwrap();
    let mut out = Vec::new();
    codec::write_binary(item, &mut out, Format::Npy, Layout::Hwc).unwrap();
    assert!(npy_data(&out) == data.as_slice());
}

#[test]
fn data_before_metadata_is_kept_aside_and_read_the_same() {
    let (npy, data) = large_case();
    let (json, _) = through_json(npy, Style::Native, WriteOptions::default());
    let envelope: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // Keys in the order Python's sort_keys writes them: data first.
    let reordered = format!(
        r#"{{"data":{},"dtype":"float32","kind":"tensor","shape":{}}}"#,
        envelope["data"], envelope["shape"]
    );
    let item = codec::read_json(reordered.as_bytes(), &ReadOptions::default()).unwrap();
    let mut out = Vec::new();
    codec::write_binary(item, &mut out, Format::Npy, Layout::Hwc).unwrap();
    assert!(npy_data(&out) == data.as_slice());
}

#[test]
fn a_key_after_streamed_data_that_changes_its_meaning_is_an_error() {
    let data = "A".repeat(4096);
    let json = format!(
        r#"{{"kind":"tensor","dtype":"uint8","shape":[3072],"data":"{data}","order":"F"}}"#
    );
    let item = codec::read_json(json.as_bytes(), &ReadOptions::default()).unwrap();
    let mut out = Vec::new();
    let error = codec::write_binary(item, &mut out, Format::Npy, Layout::Hwc).unwrap_err();
    assert!(
        error.to_string().contains("write them before it"),
        "{error}"
    );
}

#[test]
fn a_huge_declared_shape_without_the_data_fails_without_allocating_it() {
    // 1 TiB declared in Fortran order, which is read whole: only what arrives is held.
    let json =
        r#"{"kind":"tensor","dtype":"uint8","shape":[1099511627776,1],"order":"F","data":"AAAA"}"#;
    let unlimited = ReadOptions {
        max_bytes: u64::MAX,
        max_in_memory: u64::MAX,
        ..ReadOptions::default()
    };
    let error = match codec::read_json(json.as_bytes(), &unlimited) {
        Ok(_) => panic!("accepted"),
        Err(error) => error,
    };
    assert!(error.to_string().contains("shorter (3 bytes)"), "{error}");
}

// Cases found by fuzzing (fuzz/regressions), kept as tests.

#[test]
fn zero_dimensional_nan_and_infinity_round_trip_through_number_styles() {
    let options = WriteOptions {
        allow_nan: true,
        ..WriteOptions::default()
    };
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let npy = npy_file(Dtype::Float64, &[], &value.to_le_bytes(), false, false);
        for style in [Style::List, Style::JsonTricks] {
            let (json, out) = through_json(npy.clone(), style, options.clone());
            let text = String::from_utf8(json).unwrap();
            assert_eq!(npy_data(&out), value.to_le_bytes(), "{style:?}: {text}");
        }
    }
}

#[test]
fn the_native_envelope_is_never_written_with_gzip() {
    // DESIGN.md defines "zlib" only, and the native reader refuses anything else.
    let npy = npy_file(Dtype::Uint8, &[3], &[1, 2, 3], false, false);
    let item = codec::read_binary(npy.as_slice()).unwrap();
    let options = WriteOptions {
        compression: Some(Compression::Gzip),
        ..WriteOptions::default()
    };
    let mut json = Vec::new();
    let error = codec::write_json(item, &mut json, Style::Native, &options).unwrap_err();
    assert!(error.to_string().contains("zlib only"), "{error}");
}

#[test]
fn an_empty_view_with_huge_axes_is_refused_as_numpy_refuses_it() {
    // Its contiguous strides overflow i64 (found by fuzzing); numpy.empty((0, 2**62, 2**62),
    // "u1") says "array is too big", and so does tensorjson, without a panic.
    let json = br#"{"py/object":"numpy.ndarray","dtype":"u1","shape":[0,4611686018427387904,4611686018427387904],"base":{"py/object":"numpy.ndarray","dtype":"u1","values":[]}}"#;
    let error = codec::read_json(&json[..], &ReadOptions::default())
        .err()
        .unwrap();
    assert!(error.to_string().contains("which numpy refuses"), "{error}");
    // The largest empty view numpy accepts is still read.
    let json = br#"{"py/object":"numpy.ndarray","dtype":"u1","shape":[0,4611686018427387904,1],"base":{"py/object":"numpy.ndarray","dtype":"u1","values":[]}}"#;
    let Item::Tensor(tensor) = codec::read_json(&json[..], &ReadOptions::default()).unwrap() else {
        panic!("an image")
    };
    assert_eq!(tensor.header.shape, [0, 1 << 62, 1]);
    assert!(tensor.into_bytes().unwrap().is_empty());
}
