//! Arbitrary bytes as a JSON document in any dialect the decoder detects, drained to `.npy`;
//! then as a stream of documents (`decode -o DIR/`), every payload drained in turn.
//! Errors are fine; panics, hangs and runaway memory are bugs. Each is done twice, from
//! memory and from a file that long strings and lists are read again from: the two must
//! give the same bytes, or both fail.
//!
//! Inputs that start with a byte of 0x80 or more (never the start of a JSON document) use it to
//! pick read options (a tensor name and a dtype for untyped numbers) and the rest as the JSON;
//! any other input is the JSON itself with the default options, so plain JSON seeds work as is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensorjson::codec::dialect::ReadOptions;
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::bundle;
use tensorjson::codec::model::Bundle;
use tensorjson::codec::aside::Reread;
use tensorjson::codec::document::HEAD;
use tensorjson::codec::model::Item;
use tensorjson::codec::{read_json, read_json_again, write_binary, Format};
use tensorjson::Dtype;

const NAMES: [Option<&str>; 4] = [None, Some("input-0"), Some("a"), Some("")];

/// `--max-bytes` for every run. A small document may rightly expand to the default 4 GiB (a
/// zlib stream, a zero-stride view), which is work, not a hang; the limit is what is tested.
const MAX_BYTES: u64 = 16 << 20;

fn options_and_json(data: &[u8]) -> (ReadOptions, &[u8]) {
    let defaults = ReadOptions {
        max_bytes: MAX_BYTES,
        max_in_memory: MAX_BYTES,
        ..ReadOptions::default()
    };
    match data.split_first() {
        Some((&first, rest)) if first >= 0x80 => {
            let name = NAMES[(first & 0b11) as usize].map(String::from);
            let dtype_index = ((first >> 2) & 0b1111) as usize;
            let dtype = dtype_index
                .checked_sub(1)
                .and_then(|i| Dtype::ALL.get(i).copied());
            (
                ReadOptions {
                    name,
                    dtype,
                    ..defaults
                },
                rest,
            )
        }
        _ => (defaults, data),
    }
}

/// The `.npy` bytes of an item, or `None` if reading it fails.
fn drained(item: tensorjson::Result<Item>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    write_binary(item.ok()?, &mut out, Format::Npy, Layout::default()).ok()?;
    Some(out)
}

/// Every payload of the stream, drained in turn, up to the first that fails.
fn drained_all<B: Bundle>(stream: tensorjson::Result<B>) -> Vec<Option<Vec<u8>>> {
    let Ok(mut stream) = stream else {
        return vec![None];
    };
    let mut all = Vec::new();
    loop {
        match stream.next_item() {
            Ok(Some(named)) => all.push(drained(Ok(named.item))),
            Ok(None) => return all,
            Err(_) => {
                all.push(None);
                return all;
            }
        }
    }
}

/// A file holding `json`, to be read as a regular input is.
fn file_of(json: &[u8]) -> std::fs::File {
    use std::io::{Seek, Write};
    let mut file = tempfile_in_tmp();
    file.write_all(json).unwrap();
    file.rewind().unwrap();
    file
}

fn tempfile_in_tmp() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("tensorjson-fuzz-{}.json", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

fn reread(json: &[u8]) -> (std::io::BufReader<std::fs::File>, Option<Reread>) {
    let file = file_of(json);
    let again = Reread::new(file.try_clone().unwrap(), 0);
    (std::io::BufReader::new(file), Some(again))
}

fuzz_target!(|data: &[u8]| {
    let (options, json) = options_and_json(data);
    let one = drained(read_json(json, &options));
    let all = drained_all(bundle::read_json(json, &options));
    // Only a string longer than HEAD is ever left in the input: shorter documents read
    // from a file the way they read from memory, and need not spend a file each.
    if json.len() <= HEAD {
        return;
    }
    let (input, again) = reread(json);
    assert_eq!(one, drained(read_json_again(input, again, &options)), "one payload");
    let (input, again) = reread(json);
    let again = drained_all(bundle::read_json_again(input, again, &options));
    assert_eq!(all, again, "every payload");
});
