//! Arbitrary bytes as a JSON document in any dialect the decoder detects, drained to `.npy`;
//! then as a stream of documents (`decode -o DIR/`), every payload drained in turn.
//! Errors are fine; panics, hangs and runaway memory are bugs.
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
use tensorjson::codec::{read_json, write_binary, Format};
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

fuzz_target!(|data: &[u8]| {
    let (options, json) = options_and_json(data);
    if let Ok(item) = read_json(json, &options) {
        let _ = write_binary(item, &mut std::io::sink(), Format::Npy, Layout::default());
    }
    let Ok(mut stream) = bundle::read_json(json, &options) else {
        return;
    };
    while let Ok(Some(named)) = stream.next_item() {
        let _ = write_binary(named.item, &mut std::io::sink(), Format::Npy, Layout::default());
    }
});
