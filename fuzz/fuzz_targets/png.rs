//! Arbitrary bytes after the PNG signature, read as an image and written both as `.npy` (the
//! pixel array) and as PNG (a full decode check). Errors are fine; panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensorjson::codec::pngfile::{Layout, SIGNATURE};
use tensorjson::codec::{read_binary, write_binary, Format};

fuzz_target!(|data: &[u8]| {
    let bytes: Vec<u8> = if data.starts_with(SIGNATURE) {
        data.to_vec()
    } else {
        SIGNATURE.iter().chain(data).copied().collect()
    };
    for format in [Format::Npy, Format::Png] {
        if let Ok(item) = read_binary(&bytes[..]) {
            let _ = write_binary(item, &mut std::io::sink(), format, Layout::default());
        }
    }
});
