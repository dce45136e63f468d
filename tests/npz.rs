//! `.npz` reading and writing through the library: every fixture numpy wrote read back bit
//! for bit, names and order kept; every hostile archive refused with a message saying why;
//! what the writer writes read back by the reader.

use std::fs::{self, File};
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use serde::Deserialize;
use tensorjson::codec::io::Plain;
use tensorjson::codec::model::{Bundle, Named};
use tensorjson::codec::npy;
use tensorjson::codec::npz::{NpzReader, NpzWriter};
use tensorjson::{Dtype, Item, Tensor, TensorHeader};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/npz")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    names: Option<Vec<String>>,
    error: Option<String>,
}

fn index() -> Vec<Case> {
    let text = fs::read_to_string(fixtures().join("INDEX.json")).expect("INDEX.json");
    serde_json::from_str(&text).expect("INDEX.json parses")
}

/// Each member as `(name, the .npy file the model writes of it)`.
fn read_all(bundle: &mut impl Bundle) -> tensorjson::Result<Vec<(String, Vec<u8>)>> {
    let mut members = Vec::new();
    while let Some(Named { name, item }) = bundle.next_item()? {
        let Item::Tensor(mut tensor) = item else {
            panic!("{name}: an .npz member read as an image");
        };
        let mut bytes = Vec::new();
        npy::write(&mut tensor, &mut bytes)?;
        members.push((name, bytes));
    }
    Ok(members)
}

fn read_fixture(file: &str, limit: u64) -> tensorjson::Result<Vec<(String, Vec<u8>)>> {
    let input = File::open(fixtures().join(file)).expect(file);
    read_all(&mut NpzReader::new(input, limit)?)
}

#[test]
fn every_archive_numpy_wrote_reads_bit_exact_in_order() {
    let mut checked = 0;
    for case in index() {
        let Some(names) = case.names else { continue };
        let members = read_fixture(&case.file, u64::MAX)
            .unwrap_or_else(|error| panic!("{}: {error}", case.file));
        let got: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(got, names, "{}: names or order", case.file);
        let stem = case.file.trim_end_matches(".npz");
        for (position, (name, bytes)) in members.iter().enumerate() {
            let expected = fixtures().join(format!("{stem}/{position}.expected.npy"));
            let expected = fs::read(&expected).expect("expected .npy");
            assert!(*bytes == expected, "{}: member {name} differs", case.file);
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} archives checked");
}

#[test]
fn every_hostile_archive_is_refused_saying_why() {
    let mut checked = 0;
    for case in index() {
        let Some(phrase) = case.error else { continue };
        // 1 MiB: the bomb's honest 16 MiB and the 4 GiB claim are over it, nothing else is.
        let error = read_fixture(&case.file, 1 << 20)
            .err()
            .unwrap_or_else(|| panic!("{}: read without an error", case.file))
            .to_string();
        assert!(error.contains(&phrase), "{}: {error}", case.file);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} hostile archives checked");
}

fn refusal(file: &str, limit: u64) -> String {
    match read_fixture(file, limit) {
        Ok(_) => panic!("{file}: read without an error"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_zip_bomb_is_refused_before_any_data_is_read() {
    let input = File::open(fixtures().join("bomb.npz")).unwrap();
    let error = NpzReader::new(input, 1 << 20)
        .err()
        .expect("refused up front");
    let message = error.to_string();
    assert!(
        message.contains("16777344 bytes, over the limit of 1048576"),
        "{message}"
    );
    assert!(message.contains("--max-bytes"), "{message}");
    // Under a limit that allows it, it is an honest archive.
    assert_eq!(read_fixture("bomb.npz", 32 << 20).unwrap().len(), 1);
}

#[test]
fn a_size_that_lies_is_refused_naming_the_member() {
    let cases = [
        (
            "declared_huge.npz",
            "header declares 128 header bytes and 32 data bytes",
        ),
        (
            "header_huge_shape.npz",
            "8000000000000 data bytes (shape [1000000000000] x float64)",
        ),
        ("data_short.npz", "ends after 160 bytes, before the 176"),
        ("data_long.npz", "longer than the 144 bytes"),
        (
            "stored_sizes_differ.npz",
            "declares 160 bytes stored and 168 bytes uncompressed",
        ),
    ];
    for (file, phrase) in cases {
        let message = refusal(file, u64::MAX);
        assert!(
            message.starts_with(".npz member \"a.npy\": "),
            "{file}: {message}"
        );
        assert!(message.contains(phrase), "{file}: {message}");
    }
}

#[test]
fn members_that_are_not_plain_npy_files_are_refused_saying_what_they_are() {
    let cases = [
        (
            "not_npy.npz",
            "\"notes.txt\": not an .npy file: its name does not end in .npy",
        ),
        ("encrypted.npz", "\"a.npy\": encrypted"),
        (
            "bzip2.npz",
            "\"a.npy\": compressed with bzip2 (zip method 12)",
        ),
        ("bad_crc.npz", "\"a.npy\": Invalid checksum"),
        ("duplicate.npz", "the member \"a.npy\" appears twice"),
    ];
    for (file, phrase) in cases {
        let message = refusal(file, u64::MAX);
        assert!(message.contains(phrase), "{file}: {message}");
    }
}

#[test]
fn what_is_no_zip_archive_is_refused() {
    let error = NpzReader::new(Cursor::new(b"\x93NUMPY not a zip".to_vec()), u64::MAX)
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(message.starts_with("invalid .npz archive: "), "{message}");
    assert!(!message.contains("invalid Zip archive"), "{message}");
    // An archive cut anywhere is refused, never read as a shorter one.
    let whole = fs::read(fixtures().join("savez_compressed.npz")).unwrap();
    for end in (0..whole.len()).step_by(97) {
        let cut = Cursor::new(whole[..end].to_vec());
        match NpzReader::new(cut, u64::MAX) {
            Err(error) => assert!(error.to_string().starts_with("invalid .npz"), "{error}"),
            Ok(mut reader) => assert!(read_all(&mut reader).is_err(), "cut at {end}"),
        }
    }
}

#[test]
fn a_member_left_half_read_does_not_stop_the_next() {
    let input = File::open(fixtures().join("savez_compressed.npz")).unwrap();
    let mut reader = NpzReader::new(input, u64::MAX).unwrap();
    let mut names = Vec::new();
    while let Some(Named { name, item }) = reader.next_item().unwrap() {
        if let Item::Tensor(mut tensor) = item {
            let _ = tensor.read(&mut [0u8; 3]).unwrap();
        }
        names.push(name);
    }
    assert_eq!(names.len(), 11, "{names:?}");
}

fn tensor_of(dtype: Dtype, shape: Vec<u64>, data: Vec<u8>) -> Tensor<'static> {
    let header = TensorHeader::new(dtype, shape).unwrap();
    Tensor::new(header, Box::new(Plain(Cursor::new(data))))
}

fn write_archive(members: &[(String, Dtype, Vec<u64>, Vec<u8>)]) -> Vec<u8> {
    let mut writer = NpzWriter::new(Vec::new());
    for (name, dtype, shape, data) in members {
        let mut tensor = tensor_of(*dtype, shape.clone(), data.clone());
        writer.add(name, &mut tensor).unwrap();
    }
    writer.finish().unwrap()
}

/// Names as numpy gives them back: any text but the empty one and NUL.
fn member_names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::hash_set("[a-zA-Z0-9_ .ü名-]{1,12}", 0..6)
        .prop_map(|names| names.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn what_the_writer_writes_the_reader_reads_back(
        names in member_names(),
        seed in any::<u64>(),
        sizes in prop::collection::vec((0usize..14, 0u64..5, 0u64..40), 6),
    ) {
        let members: Vec<_> = names.iter().zip(&sizes).map(|(name, &(dtype, rows, cols))| {
            let dtype = Dtype::ALL[dtype];
            let len = (rows * cols) as usize * dtype.itemsize();
            let data = (0..len).map(|i| (seed >> (i % 57)) as u8 ^ i as u8).collect();
            (name.clone(), dtype, vec![rows, cols], data)
        }).collect();
        let archive = write_archive(&members);
        let read = read_all(&mut NpzReader::new(Cursor::new(archive), u64::MAX).unwrap()).unwrap();
        prop_assert_eq!(read.len(), members.len());
        for ((name, bytes), (want_name, dtype, shape, data)) in read.iter().zip(&members) {
            prop_assert_eq!(name, want_name);
            let mut expected = Vec::new();
            npy::write(&mut tensor_of(*dtype, shape.clone(), data.clone()), &mut expected).unwrap();
            prop_assert!(*bytes == expected, "member {} differs", name);
        }
    }
}

#[test]
fn the_writer_streams_to_output_that_cannot_seek() {
    // A pipe cannot seek: `io::Write` alone is all the writer asks of its output.
    struct Pipe(Vec<u8>);
    impl io::Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut writer = NpzWriter::new(Pipe(Vec::new()));
    writer
        .add(
            "x",
            &mut tensor_of(Dtype::Int32, vec![2], vec![1, 0, 0, 0, 2, 0, 0, 0]),
        )
        .unwrap();
    let Pipe(bytes) = writer.finish().unwrap();
    let read = read_all(&mut NpzReader::new(Cursor::new(bytes), u64::MAX).unwrap()).unwrap();
    assert_eq!(read[0].0, "x");
}

#[test]
fn the_writer_refuses_names_numpy_could_not_give_back() {
    let cases = [
        ("", "the name is empty"),
        ("a\0b", "NUL"),
        ("twice", "it is given twice"),
    ];
    let mut writer = NpzWriter::new(Vec::new());
    writer
        .add("twice", &mut tensor_of(Dtype::Uint8, vec![0], Vec::new()))
        .unwrap();
    for (name, phrase) in cases {
        let mut tensor = tensor_of(Dtype::Uint8, vec![1], vec![9]);
        let message = writer.add(name, &mut tensor).expect_err(name).to_string();
        assert!(
            message.starts_with("cannot name an .npz member"),
            "{message}"
        );
        assert!(message.contains(phrase), "{name:?}: {message}");
    }
}

/// Peak memory of this process, from Linux's accounting.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Every member of an archive drained; the bytes read.
fn drain(archive: File) -> u64 {
    let mut reader = NpzReader::new(archive, u64::MAX).unwrap();
    let mut total = 0;
    while let Some(Named { item, .. }) = reader.next_item().unwrap() {
        let Item::Tensor(mut tensor) = item else {
            panic!("an image")
        };
        total += io::copy(&mut tensor, &mut io::sink()).unwrap();
    }
    total
}

const MEMBER: u64 = 16 << 20;

/// A float32 tensor of [`MEMBER`] bytes, each `fill`.
fn filled(fill: u8) -> Tensor<'static> {
    let header = TensorHeader::new(Dtype::Float32, vec![MEMBER / 4]).unwrap();
    Tensor::new(header, Box::new(Plain(io::repeat(fill).take(MEMBER))))
}

/// 1 GiB in 64 members, stored (written by `NpzWriter`) and deflated (as
/// `savez_compressed` writes them), read back through temporary files. Run alone, so that no
/// other test's memory counts: `cargo test --release --test npz -- --ignored --nocapture`.
#[test]
#[ignore = "writes 1 GiB twice; run alone"]
fn a_1_gib_archive_of_64_members_streams_in_flat_memory() {
    let mut stored = tempfile::tempfile().unwrap();
    let mut writer = NpzWriter::new(&mut stored);
    for index in 0..64 {
        writer
            .add(&format!("t{index}"), &mut filled(index as u8))
            .unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(drain(stored), 64 * MEMBER);

    let mut zip = zip::ZipWriter::new(tempfile::tempfile().unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for index in 0..64 {
        zip.start_file(format!("t{index}.npy"), options).unwrap();
        npy::write(&mut filled(index as u8), &mut zip).unwrap();
    }
    let deflated = zip.finish().unwrap();
    assert_eq!(drain(deflated), 64 * MEMBER);

    let peak = peak_rss_kib();
    eprintln!("peak RSS {peak} KiB");
    assert!(peak < 16 * 1024, "peak RSS {peak} KiB");
}

/// Counts the bytes read from the archive, to show how far the reader went.
struct Counted<'a> {
    inner: Cursor<Vec<u8>>,
    count: &'a AtomicU64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.count.fetch_add(count as u64, Ordering::Relaxed);
        Ok(count)
    }
}

impl io::Seek for Counted<'_> {
    fn seek(&mut self, position: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(position)
    }
}

#[test]
fn a_member_longer_than_declared_is_not_inflated_past_its_declared_size() {
    // An .npy of 16 data bytes followed by 2 MiB that do not compress, deflated; the central
    // directory then says 144 bytes (128 of header, 16 of data), which the header agrees with.
    let mut member = Vec::new();
    npy::write(
        &mut tensor_of(Dtype::Float64, vec![2], vec![0; 16]),
        &mut member,
    )
    .unwrap();
    assert_eq!(member.len(), 144);
    let mut state = 1u32;
    member.extend((0..2 << 20).map(|_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    }));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("a.npy", options).unwrap();
    io::Write::write_all(&mut zip, &member).unwrap();
    let mut bytes = zip.finish().unwrap().into_inner();
    let central = bytes.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    bytes[central + 24..central + 28].copy_from_slice(&144u32.to_le_bytes());

    let count = AtomicU64::new(0);
    let input = Counted {
        inner: Cursor::new(bytes),
        count: &count,
    };
    let error = read_all(&mut NpzReader::new(input, u64::MAX).unwrap()).unwrap_err();
    assert!(
        error.to_string().contains("longer than the 144 bytes"),
        "{error}"
    );
    // The central directory, the local header and a buffer or two of deflate: not 2 MiB.
    let count = count.into_inner();
    assert!(count < 64 << 10, "read {count} bytes");
}

/// A member over 4 GiB needs zip64 sizes, and a member after it a zip64 offset. Run alone:
/// `cargo test --release --test npz -- --ignored`.
#[test]
#[ignore = "writes 4 GiB; run alone"]
fn members_past_4_gib_are_written_as_zip64_and_read_back() {
    const HUGE: u64 = (4 << 30) + 16;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut writer = NpzWriter::new(file.as_file_mut());
    let header = TensorHeader::new(Dtype::Uint8, vec![HUGE]).unwrap();
    let mut huge = Tensor::new(header, Box::new(Plain(io::repeat(3).take(HUGE))));
    writer.add("huge", &mut huge).unwrap();
    writer.add("after", &mut filled(1)).unwrap();
    writer.finish().unwrap();
    if let Ok(path) = std::env::var("TJ_KEEP_ZIP64") {
        fs::copy(file.path(), path).unwrap();
    }
    assert_eq!(drain(file.reopen().unwrap()), HUGE + MEMBER);
}
