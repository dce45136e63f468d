//! The safetensors codec through the library: every fixture of `fixtures/safetensors/` (written
//! by the `safetensors` Python package, or by hand) read bit-exact against what
//! `safetensors.numpy.load_file` returned, with names, order and metadata; every hostile
//! fixture refused with its message, from a file of known size and from a pipe; what the
//! writer writes read back (and byte-identical to the reference's own files).

use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde::Deserialize;
use tensorjson::codec::dtype::Dtype;
use tensorjson::codec::model::{Bundle, Item, Tensor, TensorHeader};
use tensorjson::codec::safetensors::{Metadata, SafetensorsReader, SafetensorsWriter};

const NO_LIMIT: u64 = u64::MAX;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/safetensors")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

#[derive(Deserialize)]
struct IndexEntry {
    file: String,
    expected: Option<String>,
    error: Option<String>,
    error_streamed: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    metadata: Option<Metadata>,
    tensors: Vec<ExpectedTensor>,
}

#[derive(Deserialize)]
struct ExpectedTensor {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    npy: String,
}

fn index() -> Vec<IndexEntry> {
    serde_json::from_slice(&fixture("INDEX.json")).unwrap()
}

/// The data of a `.npy` file numpy wrote (version 1.0, little-endian, C order), found by its
/// header length, without tensorjson's own `.npy` reader.
fn npy_data(bytes: &[u8]) -> &[u8] {
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let text = std::str::from_utf8(&bytes[10..10 + header]).unwrap();
    assert!(text.contains("'fortran_order': False"), "{text}");
    &bytes[10 + header..]
}

/// Hands out at most `step` bytes a read, as a pipe may.
struct Trickle<R> {
    inner: R,
    step: usize,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = buf.len().min(self.step);
        self.inner.read(&mut buf[..limit])
    }
}

/// A tensor read whole: name, dtype, shape, bytes.
#[derive(Debug, PartialEq)]
struct ReadTensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn drain(bundle: &mut dyn Bundle) -> tensorjson::Result<Vec<ReadTensor>> {
    let mut tensors = Vec::new();
    while let Some(named) = bundle.next_item()? {
        let Item::Tensor(tensor) = named.item else {
            panic!("an image from a safetensors file");
        };
        let (dtype, shape) = (tensor.header.dtype, tensor.header.shape.clone());
        tensors.push(ReadTensor {
            name: named.name,
            dtype,
            shape,
            bytes: tensor.into_bytes()?,
        });
    }
    Ok(tensors)
}

/// Reads `bytes` with its size known, or as a pipe handing out 7 bytes at a time.
fn read_all(bytes: &[u8], sized: bool) -> tensorjson::Result<(Option<Metadata>, Vec<ReadTensor>)> {
    if sized {
        let mut reader = SafetensorsReader::new(bytes, Some(bytes.len() as u64), NO_LIMIT)?;
        let tensors = drain(&mut reader)?;
        return Ok((reader.metadata().cloned(), tensors));
    }
    let pipe = Trickle {
        inner: bytes,
        step: 7,
    };
    let mut reader = SafetensorsReader::new(pipe, None, NO_LIMIT)?;
    let tensors = drain(&mut reader)?;
    Ok((reader.metadata().cloned(), tensors))
}

#[test]
fn every_readable_fixture_reads_as_the_reference_loads_it() {
    let mut checked = 0;
    for entry in index() {
        let Some(expected) = entry.expected else {
            continue;
        };
        let expected: Expected = serde_json::from_slice(&fixture(&expected)).unwrap();
        let bytes = fixture(&entry.file);
        for sized in [true, false] {
            let (metadata, tensors) = read_all(&bytes, sized)
                .unwrap_or_else(|error| panic!("{} (sized: {sized}): {error}", entry.file));
            assert_eq!(metadata, expected.metadata, "{}", entry.file);
            let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
            let want: Vec<&str> = expected.tensors.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, want, "{}: names in data order", entry.file);
            for (tensor, want) in tensors.iter().zip(&expected.tensors) {
                let context = format!("{} {}", entry.file, want.name);
                assert_eq!(tensor.dtype.name(), want.dtype, "{context}");
                assert_eq!(tensor.shape, want.shape, "{context}");
                assert!(
                    tensor.bytes == npy_data(&fixture(&want.npy)),
                    "{context}: bytes differ"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} readable fixtures");
}

#[test]
fn every_dtype_with_a_safetensors_name_is_in_the_fixtures() {
    let expected: Expected = serde_json::from_slice(&fixture("all_dtypes.expected.json")).unwrap();
    let mut dtypes: Vec<&str> = expected.tensors.iter().map(|t| t.dtype.as_str()).collect();
    dtypes.sort_unstable();
    let mut carried: Vec<&str> = Dtype::ALL
        .into_iter()
        .filter(|dtype| dtype.safetensors_name().is_some())
        .map(Dtype::name)
        .collect();
    carried.sort_unstable();
    assert_eq!(dtypes, carried);
}

/// The first error reading the whole file gives, wherever it comes.
fn first_error(bytes: &[u8], sized: bool) -> String {
    match read_all(bytes, sized) {
        Ok(_) => panic!("read without an error"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_hostile_fixture_is_refused_with_its_message() {
    let mut checked = 0;
    for entry in index() {
        let (Some(error), Some(streamed)) = (entry.error, entry.error_streamed) else {
            continue;
        };
        let bytes = fixture(&entry.file);
        for (sized, phrase) in [(true, &error), (false, &streamed)] {
            let message = first_error(&bytes, sized);
            assert!(
                message.starts_with("cannot read this safetensors file: ")
                    || message.contains("is too large"),
                "{}: {message}",
                entry.file
            );
            assert!(
                message.contains(phrase.as_str()),
                "{} (sized: {sized}): {message:?} lacks {phrase:?}",
                entry.file
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} hostile fixtures");
}

#[test]
fn a_file_shorter_than_its_header_declares_is_refused_before_any_data_is_read() {
    let bytes = fixture("bad_past_end.safetensors");
    let error = SafetensorsReader::new(bytes.as_slice(), Some(bytes.len() as u64), NO_LIMIT)
        .err()
        .expect("refused up front");
    assert!(
        error.to_string().contains("past the end of the file"),
        "{error}"
    );
    let bytes = fixture("bad_longer_than_header.safetensors");
    let error = SafetensorsReader::new(bytes.as_slice(), Some(bytes.len() as u64), NO_LIMIT)
        .err()
        .expect("refused up front");
    assert!(error.to_string().contains("declares 16"), "{error}");
}

#[test]
fn dtypes_not_carried_are_named_with_what_is_carried() {
    let message = first_error(&fixture("bad_bf16.safetensors"), true);
    assert!(
        message.contains("BF16") && message.contains("planned"),
        "{message}"
    );
    assert!(message.ends_with("BOOL, I8, I16, I32, I64, U8, U16, U32, U64, F16, F32, F64, C64"));
}

#[test]
fn more_data_than_max_bytes_is_refused_up_front() {
    let bytes = fixture("several.safetensors");
    let reader = SafetensorsReader::new(bytes.as_slice(), None, NO_LIMIT).unwrap();
    let total = reader.data_len();
    let error = SafetensorsReader::new(bytes.as_slice(), None, total - 1)
        .err()
        .expect("over the limit");
    assert_eq!(
        error.to_string(),
        format!(
            "the safetensors file's data is {total} bytes, over the limit of {} bytes (raise \
             it with --max-bytes)",
            total - 1
        )
    );
    assert!(SafetensorsReader::new(bytes.as_slice(), None, total).is_ok());
}

#[test]
fn tensors_dropped_part_way_are_skipped_and_the_next_read_whole() {
    let bytes = fixture("several.safetensors");
    let (_, whole) = read_all(&bytes, true).unwrap();
    let pipe = Trickle {
        inner: bytes.as_slice(),
        step: 5,
    };
    let mut reader = SafetensorsReader::new(pipe, None, NO_LIMIT).unwrap();
    let names: Vec<&str> = reader.remaining().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        whole.iter().map(|t| t.name.as_str()).collect::<Vec<_>>()
    );
    let mut index = 0;
    while let Some(named) = reader.next_item().unwrap() {
        let Item::Tensor(mut tensor) = named.item else {
            panic!("an image");
        };
        if index % 2 == 0 {
            // Read three bytes, then drop it.
            let mut three = [0u8; 3];
            tensor.read_exact(&mut three).unwrap();
            assert_eq!(three, whole[index].bytes[..3]);
        } else {
            assert_eq!(tensor.into_bytes().unwrap(), whole[index].bytes);
        }
        index += 1;
    }
    assert_eq!(index, whole.len());
    assert!(
        reader.next_item().unwrap().is_none(),
        "asked again after the end"
    );
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

fn tensor(dtype: Dtype, shape: &[u64], bytes: Vec<u8>) -> Tensor<'static> {
    let header = TensorHeader::new(dtype, shape.to_vec()).unwrap();
    Tensor::new(header, Box::new(Cursor::new(bytes)))
}

/// Reads `bytes` and writes every tensor again, with the metadata.
fn rewrite(bytes: &[u8]) -> Vec<u8> {
    let mut reader = SafetensorsReader::new(bytes, Some(bytes.len() as u64), NO_LIMIT).unwrap();
    let mut writer = SafetensorsWriter::new().unwrap();
    if let Some(metadata) = reader.metadata() {
        writer.set_metadata(metadata.clone());
    }
    while let Some(named) = reader.next_item().unwrap() {
        let Item::Tensor(mut tensor) = named.item else {
            panic!("an image");
        };
        writer.add(&named.name, &mut tensor).unwrap();
    }
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();
    out
}

#[test]
fn what_the_writer_writes_reads_back_as_the_fixture_did() {
    for entry in index() {
        if entry.expected.is_none() {
            continue;
        }
        let bytes = fixture(&entry.file);
        let written = rewrite(&bytes);
        let header_len = u64::from_le_bytes(written[..8].try_into().unwrap());
        assert_eq!(header_len % 8, 0, "{}: header not padded", entry.file);
        let original = read_all(&bytes, true).unwrap();
        let again = read_all(&written, true).unwrap();
        assert_eq!(original, again, "{}", entry.file);
    }
}

#[test]
fn the_writer_writes_what_the_reference_writes_byte_for_byte() {
    // Files the reference wrote, in its order, with at most one metadata key (it writes a
    // hash map's order).
    for file in [
        "all_dtypes",
        "scalar",
        "empty",
        "no_tensors",
        "several",
        "metadata",
    ] {
        let bytes = fixture(&format!("{file}.safetensors"));
        assert!(rewrite(&bytes) == bytes, "{file}");
    }
}

fn write(tensors: Vec<(&str, Tensor)>) -> tensorjson::Result<Vec<u8>> {
    let mut writer = SafetensorsWriter::new()?;
    for (name, mut tensor) in tensors {
        writer.add(name, &mut tensor)?;
    }
    let mut out = Vec::new();
    writer.finish(&mut out)?;
    Ok(out)
}

#[test]
fn the_writer_refuses_names_and_dtypes_safetensors_cannot_hold() {
    let small = || tensor(Dtype::Uint8, &[2], vec![1, 2]);
    let cases = [
        (
            vec![("a", small()), ("a", small())],
            "two tensors are named \"a\"",
        ),
        (vec![("", small())], "a tensor's name is empty"),
        (
            vec![("__metadata__", small())],
            "a tensor is named \"__metadata__\", the header's key for metadata",
        ),
        (
            vec![("c", tensor(Dtype::Complex128, &[1], vec![0; 16]))],
            "tensor \"c\" is complex128, which safetensors has no dtype for (it has BOOL, I8",
        ),
    ];
    for (tensors, phrase) in cases {
        let message = write(tensors).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("cannot write a safetensors file: {phrase}")),
            "{message}"
        );
    }
}

#[test]
fn a_tensor_whose_data_fails_leaves_the_writer_refusing_to_finish() {
    let mut writer = SafetensorsWriter::new().unwrap();
    // Shorter than its header declares.
    let mut short = tensor(Dtype::Float32, &[4], vec![0; 10]);
    let error = writer.add("short", &mut short).unwrap_err().to_string();
    assert!(error.contains("shorter (10 bytes)"), "{error}");
    let mut good = tensor(Dtype::Uint8, &[1], vec![1]);
    let error = writer.add("good", &mut good).unwrap_err().to_string();
    assert!(error.contains("failed part way"), "{error}");
    let error = writer.finish(&mut Vec::new()).unwrap_err().to_string();
    assert!(error.contains("failed part way"), "{error}");
}

#[test]
fn the_writer_keeps_the_order_tensors_are_added_in() {
    let out = write(vec![
        ("z", tensor(Dtype::Uint8, &[1], vec![9])),
        (
            "a",
            tensor(Dtype::Float64, &[], 1.5f64.to_le_bytes().to_vec()),
        ),
    ])
    .unwrap();
    let header_len = u64::from_le_bytes(out[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&out[8..8 + header_len]).unwrap();
    assert_eq!(
        header.trim_end(),
        r#"{"z":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"F64","shape":[],"data_offsets":[1,9]}}"#
    );
    let (_, tensors) = read_all(&out, false).unwrap();
    assert_eq!(tensors[0].name, "z");
    assert_eq!(tensors[1].bytes, 1.5f64.to_le_bytes());
}

fn dtype_strategy() -> impl Strategy<Value = Dtype> {
    let carried: Vec<Dtype> = Dtype::ALL
        .into_iter()
        .filter(|dtype| dtype.safetensors_name().is_some())
        .collect();
    proptest::sample::select(carried)
}

fn tensor_strategy() -> impl Strategy<Value = (Dtype, Vec<u64>, Vec<u8>)> {
    (dtype_strategy(), proptest::collection::vec(0u64..4, 0..4)).prop_flat_map(|(dtype, shape)| {
        let len = shape.iter().product::<u64>() as usize * dtype.itemsize();
        (
            Just(dtype),
            Just(shape),
            proptest::collection::vec(any::<u8>(), len),
        )
    })
}

proptest! {
    #[test]
    fn tensors_written_read_back_bit_exact(
        tensors in proptest::collection::vec(tensor_strategy(), 0..6),
        metadata in proptest::option::of(proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..3)),
    ) {
        let names: Vec<String> = (0..tensors.len()).map(|index| format!("t{index}")).collect();
        let mut writer = SafetensorsWriter::new().unwrap();
        if let Some(metadata) = &metadata {
            writer.set_metadata(metadata.clone());
        }
        for (name, (dtype, shape, bytes)) in names.iter().zip(&tensors) {
            writer.add(name, &mut tensor(*dtype, shape, bytes.clone())).unwrap();
        }
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        for sized in [true, false] {
            let (read_metadata, read) = read_all(&out, sized).unwrap();
            prop_assert_eq!(&read_metadata, &metadata);
            prop_assert_eq!(read.len(), tensors.len());
            for ((tensor, name), (dtype, shape, bytes)) in read.iter().zip(&names).zip(&tensors) {
                prop_assert_eq!(&tensor.name, name);
                prop_assert_eq!(tensor.dtype, *dtype);
                let shape: Vec<usize> = shape.iter().map(|&dim| dim as usize).collect();
                prop_assert_eq!(&tensor.shape, &shape);
                prop_assert_eq!(&tensor.bytes, bytes);
            }
        }
    }
}
