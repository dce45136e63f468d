//! The commands of the README, driven through the binary against fixtures that real NumPy
//! and Pillow made (fixtures/generate.py). Expected outputs come from those tools, never from
//! tensorjson itself.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use serde::Deserialize;

/// The tensor envelope, parsed strictly so that any extra or renamed key fails.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct TensorEnvelope {
    kind: String,
    dtype: String,
    shape: Vec<u64>,
    #[serde(default)]
    compression: Option<String>,
    data: String,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct ImageEnvelope {
    kind: String,
    format: String,
    width: u32,
    height: u32,
    color: String,
    data: String,
}

/// The hand-rolled style's tensor and image, parsed strictly.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HandRolledTensor {
    tensor: String,
    shape: Vec<u64>,
    dtype: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HandRolledImage {
    image: String,
    format: String,
}

/// The object keys of a one-level JSON object, in the order they are written.
fn key_order(json: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(json).unwrap();
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|key| (text.find(&format!("\"{key}\":")).unwrap(), key.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, key)| key).collect()
}

/// What fixtures/png/*.expected.json holds (written by Pillow-based code).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ExpectedImage {
    color: String,
    width: u32,
    height: u32,
}

fn tensorjson() -> Command {
    Command::cargo_bin("tensorjson").unwrap()
}

fn fixtures(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(Path::new("fixtures").join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_str().unwrap().ends_with(suffix))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures {dir}/*{suffix}");
    paths
}

/// `x.npy` -> `x.<suffix>`
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_name().unwrap().to_str().unwrap();
    let stem = stem.split('.').next().unwrap();
    path.with_file_name(format!("{stem}.{suffix}"))
}

fn source_npys() -> Vec<PathBuf> {
    fixtures("npy", ".npy")
        .into_iter()
        .filter(|path| !path.to_str().unwrap().ends_with(".canonical.npy"))
        .collect()
}

fn base64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn encode_npy_prints_exactly_what_python_computed() {
    for npy in source_npys() {
        let expected = fs::read(beside(&npy, "expected.json")).unwrap();
        let output = tensorjson().arg("encode").arg(&npy).output().unwrap();
        assert!(output.status.success(), "{npy:?}: {output:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(expected).unwrap(),
            "{npy:?}"
        );
    }
}

#[test]
fn decode_envelope_writes_the_npy_file_numpy_writes() {
    let dir = tempfile::tempdir().unwrap();
    for npy in source_npys() {
        let out = dir.path().join("out.npy");
        tensorjson()
            .arg("decode")
            .arg(beside(&npy, "expected.json"))
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        let canonical = fs::read(beside(&npy, "canonical.npy")).unwrap();
        assert!(fs::read(&out).unwrap() == canonical, "{npy:?}");
    }
}

#[test]
fn pipelines_through_stdin_and_stdout() {
    let npy = Path::new("fixtures/npy/float64_be_f.npy");
    let json = tensorjson()
        .args(["encode", "-"])
        .pipe_stdin(npy)
        .unwrap()
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json, fs::read(beside(npy, "expected.json")).unwrap());
    let back = tensorjson()
        .args(["decode", "--to", "npy"])
        .write_stdin(json)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(back == fs::read(beside(npy, "canonical.npy")).unwrap());
}

#[test]
fn max_bytes_admits_data_of_exactly_that_size() {
    let npy = Path::new("fixtures/npy/float64_be_f.npy");
    let envelope = fs::read(beside(npy, "expected.json")).unwrap();
    let canonical = fs::read(beside(npy, "canonical.npy")).unwrap();
    let parsed: TensorEnvelope = serde_json::from_slice(&envelope).unwrap();
    let data_bytes = base64(&parsed.data).len();
    let decode = |limit: String| {
        tensorjson()
            .args(["decode", "--to", "npy", "--max-bytes", &limit])
            .write_stdin(envelope.clone())
            .assert()
    };
    let out = decode(data_bytes.to_string())
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(out == canonical);
    decode((data_bytes - 1).to_string())
        .failure()
        .stderr(predicates::str::contains(format!(
            "the decoded data is {data_bytes} bytes, over the limit of {} bytes",
            data_bytes - 1
        )));
}

#[test]
fn encode_to_a_file_with_pretty_and_zlib() {
    let dir = tempfile::tempdir().unwrap();
    let npy = Path::new("fixtures/npy/int32_be_c.npy");
    let expected: TensorEnvelope =
        serde_json::from_slice(&fs::read(beside(npy, "expected.json")).unwrap()).unwrap();
    let raw = base64(&expected.data);

    let pretty = dir.path().join("pretty.json");
    tensorjson()
        .arg("encode")
        .arg(npy)
        .args(["--pretty", "-o"])
        .arg(&pretty)
        .assert()
        .success();
    let text = fs::read_to_string(&pretty).unwrap();
    assert!(text.starts_with("{\n  \"kind\": \"tensor\",\n"), "{text}");
    let parsed: TensorEnvelope = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, expected);

    let zlib = dir.path().join("zlib.json");
    tensorjson()
        .arg("encode")
        .arg(npy)
        .args(["--compress", "zlib", "-o"])
        .arg(&zlib)
        .assert()
        .success();
    let parsed: TensorEnvelope = serde_json::from_slice(&fs::read(&zlib).unwrap()).unwrap();
    assert_eq!(parsed.compression.as_deref(), Some("zlib"));
    assert_eq!(
        (parsed.dtype.as_str(), &parsed.shape),
        ("int32", &expected.shape)
    );
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(base64(&parsed.data).as_slice())
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, raw, "zlib payload inflates to the raw bytes");

    let back = dir.path().join("back.npy");
    tensorjson()
        .arg("decode")
        .arg(&zlib)
        .arg("-o")
        .arg(&back)
        .assert()
        .success();
    assert!(fs::read(&back).unwrap() == fs::read(beside(npy, "canonical.npy")).unwrap());
}

#[test]
fn encode_png_keeps_the_file_bytes() {
    for png in fixtures("png", ".png") {
        let output = tensorjson().arg("encode").arg(&png).output().unwrap();
        assert!(output.status.success(), "{png:?}: {output:?}");
        let envelope: ImageEnvelope = serde_json::from_slice(&output.stdout).unwrap();
        let expected: ExpectedImage =
            serde_json::from_slice(&fs::read(beside(&png, "expected.json")).unwrap()).unwrap();
        assert_eq!(
            (envelope.kind.as_str(), envelope.format.as_str()),
            ("image", "png")
        );
        assert_eq!(
            (envelope.width, envelope.height, envelope.color.as_str()),
            (expected.width, expected.height, expected.color.as_str()),
            "{png:?}"
        );
        assert!(base64(&envelope.data) == fs::read(&png).unwrap(), "{png:?}");
    }
}

#[test]
fn image_to_npy_gives_the_pixels_pillow_gives() {
    let dir = tempfile::tempdir().unwrap();
    for png in fixtures("png", ".png") {
        let json = tensorjson()
            .arg("encode")
            .arg(&png)
            .output()
            .unwrap()
            .stdout;
        let out = dir.path().join("pixels.npy");
        tensorjson()
            .args(["decode", "-", "-o"])
            .arg(&out)
            .write_stdin(json)
            .assert()
            .success();
        let expected = fs::read(beside(&png, "expected.npy")).unwrap();
        assert!(fs::read(&out).unwrap() == expected, "{png:?}");
    }
}

#[test]
fn hand_rolled_style_writes_the_tensor_first_with_torch_dtypes_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    for npy in source_npys() {
        let expected: TensorEnvelope =
            serde_json::from_slice(&fs::read(beside(&npy, "expected.json")).unwrap()).unwrap();
        let json = tensorjson()
            .arg("encode")
            .arg(&npy)
            .args(["--style", "hand-rolled"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(key_order(&json), ["tensor", "shape", "dtype"], "{npy:?}");
        let parsed: HandRolledTensor = serde_json::from_slice(&json).unwrap();
        // Every torch name is numpy's name with the prefix (str(torch.float32) and so on).
        assert_eq!(parsed.dtype, format!("torch.{}", expected.dtype), "{npy:?}");
        assert_eq!(parsed.shape, expected.shape, "{npy:?}");
        assert!(base64(&parsed.tensor) == base64(&expected.data), "{npy:?}");
        let out = dir.path().join("back.npy");
        tensorjson()
            .args(["decode", "-", "-o"])
            .arg(&out)
            .write_stdin(json)
            .assert()
            .success();
        let canonical = fs::read(beside(&npy, "canonical.npy")).unwrap();
        assert!(fs::read(&out).unwrap() == canonical, "{npy:?}");
    }
}

#[test]
fn hand_rolled_style_writes_an_image_as_the_png_file_and_reads_back() {
    for png in fixtures("png", ".png") {
        let json = tensorjson()
            .arg("encode")
            .arg(&png)
            .args(["--style", "hand-rolled"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(key_order(&json), ["image", "format"], "{png:?}");
        let parsed: HandRolledImage = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed.format, "PNG");
        let file = fs::read(&png).unwrap();
        assert!(base64(&parsed.image) == file, "{png:?}");
        let back = tensorjson()
            .args(["decode", "--to", "png"])
            .write_stdin(json)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(back == file, "{png:?}");
    }
}

#[test]
fn image_envelope_to_png_is_the_original_file() {
    let png = Path::new("fixtures/png/rgba8.png");
    let json = tensorjson().arg("encode").arg(png).output().unwrap().stdout;
    let back = tensorjson()
        .args(["decode", "--to", "png"])
        .write_stdin(json)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(back == fs::read(png).unwrap());
}

#[test]
fn pixel_tensors_become_pngs_that_decode_to_the_same_pixels() {
    // Pillow's pixels of each fixture, as .npy, go back to PNG and to pixels again.
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "l8", "la8", "rgb8", "rgba8", "l16", "la16", "rgb16", "rgba16",
    ] {
        let pixels = Path::new("fixtures/png").join(format!("{name}.expected.npy"));
        let json = tensorjson()
            .arg("encode")
            .arg(&pixels)
            .output()
            .unwrap()
            .stdout;
        let png = dir.path().join(format!("{name}.png"));
        tensorjson()
            .args(["decode", "-", "-o"])
            .arg(&png)
            .write_stdin(json)
            .assert()
            .success();
        let again = tensorjson()
            .arg("encode")
            .arg(&png)
            .output()
            .unwrap()
            .stdout;
        let envelope: ImageEnvelope = serde_json::from_slice(&again).unwrap();
        assert_eq!(envelope.color, name);
        let out = dir.path().join("again.npy");
        tensorjson()
            .args(["decode", "-", "-o"])
            .arg(&out)
            .write_stdin(again)
            .assert()
            .success();
        assert!(
            fs::read(&out).unwrap() == fs::read(&pixels).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn chw_layout_is_transposed_to_interleaved_pixels() {
    // Planes R=[1,2], G=[3,4], B=[5,6] of a 1x2 image, as a (3, 1, 2) uint8 tensor.
    let data = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3, 4, 5, 6]);
    let json = format!(r#"{{"kind":"tensor","dtype":"uint8","shape":[3,1,2],"data":"{data}"}}"#);
    let png = tensorjson()
        .args(["decode", "--to", "png", "--layout", "chw"])
        .write_stdin(json)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    assert_eq!(pixels, [1, 3, 5, 2, 4, 6]);
}

#[test]
fn json_fixtures_from_python_decode_to_their_arrays() {
    let dir = tempfile::tempdir().unwrap();
    for json in fixtures("json", ".json") {
        let out = dir.path().join("out.npy");
        tensorjson()
            .arg("decode")
            .arg(&json)
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        let expected = fs::read(beside(&json, "expected.npy")).unwrap();
        assert!(fs::read(&out).unwrap() == expected, "{json:?}");
    }
}

#[test]
fn npy_base64_style_is_the_whole_npy_file() {
    let npy = Path::new("fixtures/npy/uint16_le_c.npy");
    let output = tensorjson()
        .arg("encode")
        .arg(npy)
        .args(["--style", "npy-base64"])
        .output()
        .unwrap();
    let text: String = serde_json::from_slice(&output.stdout).unwrap();
    assert!(text.starts_with("k05VTVBZ"));
    assert!(base64(&text) == fs::read(beside(npy, "canonical.npy")).unwrap());
}

#[test]
fn help_lists_every_dtype_from_the_table() {
    let output = tensorjson().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for name in tensorjson::Dtype::ALL.map(tensorjson::Dtype::name) {
        assert!(help.contains(name), "{name} missing from help:\n{help}");
    }
}

#[test]
fn readme_lists_match_the_code() {
    let readme = fs::read_to_string("README.md").unwrap();
    let dtypes = format!("Supported dtypes: {}\n", tensorjson::Dtype::names());
    assert!(readme.contains(&dtypes), "README must contain: {dtypes}");
    let colors = format!("PNG colors: {}\n", tensorjson::Color::names());
    assert!(readme.contains(&colors), "README must contain: {colors}");
}

#[cfg(unix)]
#[test]
fn output_files_get_the_usual_mode_not_a_temporary_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    fs::File::create(&reference).unwrap();
    let out = dir.path().join("out.json");
    tensorjson()
        .args(["encode", "fixtures/example.npy", "-o"])
        .arg(&out)
        .assert()
        .success();
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), mode(&reference));
}

/// Runs `tensorjson encode` under a pseudo-terminal (util-linux `script`), with standard input
/// stalled for over a second halfway, and returns what the terminal showed.
fn encode_on_a_terminal(extra: &str) -> Option<String> {
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped: no /usr/bin/script to make a terminal");
        return None;
    }
    let binary = assert_cmd::cargo::cargo_bin("tensorjson");
    let out = tempfile::tempdir().unwrap();
    let command = format!(
        "(head -c 100 fixtures/example.npy; sleep 1.3; tail -c +101 fixtures/example.npy) | {} {extra} encode - -o {}",
        binary.display(),
        out.path().join("x.json").display()
    );
    let output = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_long_run_on_a_terminal_shows_progress_unless_quiet() {
    let Some(shown) = encode_on_a_terminal("") else {
        return;
    };
    assert!(shown.contains("tensorjson: read"), "{shown:?}");
    let Some(shown) = encode_on_a_terminal("--quiet") else {
        return;
    };
    assert!(!shown.contains("tensorjson"), "{shown:?}");
}

/// Starts `decode - -o out.npy` over an existing out.npy, feeds it half of a large envelope,
/// waits for its temporary file, sends `signal`, and returns the directory and the status.
#[cfg(unix)]
fn interrupt_mid_write(signal: &str) -> (tempfile::TempDir, std::process::ExitStatus) {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("out.npy"), b"the old file").unwrap();
    let bytes = vec![7u8; 24 << 20];
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let json = format!(
        r#"{{"kind":"tensor","dtype":"uint8","shape":[{}],"data":"{data}"}}"#,
        bytes.len()
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorjson"))
        .args(["decode", "-", "-o"])
        .arg(dir.path().join("out.npy"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&json.as_bytes()[..json.len() / 2]).unwrap();
    let started = Instant::now();
    while temporaries(dir.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !temporaries(dir.path()).is_empty(),
        "no temporary file appeared"
    );
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    drop(stdin);
    (dir, status)
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(".tensorjson-")
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_write_removes_the_temporary_file_and_keeps_the_old_output() {
    let (dir, status) = interrupt_mid_write("-INT");
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        fs::read(dir.path().join("out.npy")).unwrap(),
        b"the old file"
    );
    assert_eq!(temporaries(dir.path()), Vec::<PathBuf>::new());
}

#[cfg(unix)]
#[test]
fn a_process_killed_mid_write_leaves_the_old_output_whole() {
    // SIGKILL runs no handler: the temporary file stays, but the output is never partial.
    let (dir, status) = interrupt_mid_write("-KILL");
    assert_eq!(status.code(), None);
    assert_eq!(
        fs::read(dir.path().join("out.npy")).unwrap(),
        b"the old file"
    );
}

#[test]
fn devices_fifos_and_links_are_written_through_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let expected = tensorjson()
        .args(["encode", "fixtures/example.npy"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let encode_to = |target: &Path| {
        tensorjson()
            .args(["encode", "fixtures/example.npy", "-o"])
            .arg(target)
            .assert()
            .success();
    };
    // Found in review: `-o /dev/null` renamed a regular file over the device node.
    encode_to(Path::new("/dev/null"));
    let null = fs::metadata("/dev/null").unwrap().file_type();
    assert!(null.is_char_device(), "/dev/null is no longer a device");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo");
    let reading = fifo.clone();
    let reader = std::thread::spawn(move || fs::read(reading).unwrap());
    encode_to(&fifo);
    assert!(
        reader.join().unwrap() == expected,
        "the FIFO's reader got other bytes"
    );
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());

    let real = dir.path().join("real.json");
    fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    encode_to(&link);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        fs::read(&real).unwrap() == expected,
        "the link's target was not written"
    );
}

/// The header dict text and the data of a version 1.0 `.npy` file.
fn npy_parts(file: &[u8]) -> (String, &[u8]) {
    let header_len = u16::from_le_bytes([file[8], file[9]]) as usize;
    let header = String::from_utf8(file[10..10 + header_len].to_vec()).unwrap();
    (header, &file[10 + header_len..])
}

fn envelope_of(dtype: &str, shape: &str, data: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(data);
    format!(r#"{{"kind":"tensor","dtype":"{dtype}","shape":{shape},"data":"{data}"}}"#)
}

#[test]
fn an_int64_mask_becomes_a_png_in_one_step_with_cast() {
    let dir = tempfile::tempdir().unwrap();
    let mask: Vec<u8> = [0i64, 1, 255, 7, 128, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let input = dir.path().join("mask.json");
    fs::write(&input, envelope_of("int64", "[2,3]", &mask)).unwrap();
    let png = dir.path().join("mask.png");
    tensorjson()
        .arg("decode")
        .arg(&input)
        .args(["--cast", "uint8", "-o"])
        .arg(&png)
        .assert()
        .success();
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (3, 2));
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    assert_eq!(pixels, [0, 1, 255, 7, 128, 0]);
}

#[test]
fn cast_converts_as_numpy_astype_does() {
    // numpy: np.array([-0.5, 2.7, -3.9, 300.0]).astype(np.int16) is [0, 2, -3, 300].
    let floats: Vec<u8> = [-0.5f64, 2.7, -3.9, 300.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let out = tensorjson()
        .args(["decode", "--cast", "int16", "--to", "npy"])
        .write_stdin(envelope_of("float64", "[4]", &floats))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (header, data) = npy_parts(&out);
    assert!(header.contains("'descr': '<i2'"), "{header}");
    let expected: Vec<u8> = [0i16, 2, -3, 300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(data, expected);
}

#[test]
fn cast_refuses_what_the_dtype_cannot_hold_naming_the_index() {
    let ints: Vec<u8> = [1i64, -2, 300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let floats: Vec<u8> = [0.5f32, 1.0, 2.0, f32::NAN]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let infinity = f64::NEG_INFINITY.to_le_bytes();
    let complex: Vec<u8> = [1.0f32, 0.0, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let cases = [
        (
            envelope_of("int64", "[3]", &ints),
            "uint8",
            "cannot cast to uint8: element 1 is -2, outside the range of uint8, 0 to 255",
        ),
        (
            envelope_of("int64", "[3]", &ints),
            "int8",
            "cannot cast to int8: element 2 is 300, outside the range of int8, -128 to 127",
        ),
        (
            envelope_of("float32", "[2,2]", &floats),
            "int32",
            "cannot cast to int32: element 3 is nan, which no integer type holds",
        ),
        (
            envelope_of("float64", "[]", &infinity),
            "uint64",
            "cannot cast to uint64: element 0 is -inf, which no integer type holds",
        ),
        (
            envelope_of("complex64", "[2]", &complex),
            "float64",
            "cannot cast to float64: element 1 is (2+3j), whose imaginary part float64 cannot hold",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (json, dtype, message) in cases {
        let input = dir.path().join("in.json");
        fs::write(&input, &json).unwrap();
        let out = dir.path().join("out.npy");
        let output = tensorjson()
            .arg("decode")
            .arg(&input)
            .args(["--cast", dtype, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{dtype}: {stderr}");
        let expected = format!("error: {}: {message}", input.display());
        assert!(stderr.starts_with(&expected), "{dtype}: {stderr}");
        assert!(!out.exists(), "{dtype}: output left behind");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "{dtype}");
    }
}

#[test]
fn image_to_npy_with_chw_layout_puts_the_channels_first() {
    let dir = tempfile::tempdir().unwrap();
    for (name, channels, itemsize) in [("rgb8", 3, 1), ("rgba16", 4, 2), ("l8", 1, 1)] {
        let png = Path::new("fixtures/png").join(format!("{name}.png"));
        let out = dir.path().join(format!("{name}.npy"));
        let json = tensorjson()
            .arg("encode")
            .arg(&png)
            .output()
            .unwrap()
            .stdout;
        tensorjson()
            .args(["decode", "-", "--layout", "chw", "-o"])
            .arg(&out)
            .write_stdin(json)
            .assert()
            .success();
        // Pillow's (H, W, C) pixels, transposed here: numpy's transpose(2, 0, 1).
        let pillow = fs::read(beside(&png, "expected.npy")).unwrap();
        let (header, hwc) = npy_parts(&pillow);
        let shape = header.split("'shape': (").nth(1).unwrap();
        let dims: Vec<usize> = shape
            .split(')')
            .next()
            .unwrap()
            .split(',')
            .filter(|dim| !dim.trim().is_empty())
            .map(|dim| dim.trim().parse().unwrap())
            .collect();
        let (height, width) = (dims[0], dims[1]);
        let mut chw = Vec::with_capacity(hwc.len());
        for channel in 0..channels {
            for pixel in 0..height * width {
                let start = (pixel * channels + channel) * itemsize;
                chw.extend_from_slice(&hwc[start..start + itemsize]);
            }
        }
        let written = fs::read(&out).unwrap();
        let (header, data) = npy_parts(&written);
        let expected_shape = format!("'shape': ({channels}, {height}, {width})");
        assert!(header.contains(&expected_shape), "{name}: {header}");
        assert!(data == chw, "{name}: pixels differ");
    }
}
