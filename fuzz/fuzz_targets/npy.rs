//! Arbitrary bytes as a `.npy` file (or a PNG, which `read_binary` tells apart by its magic),
//! drained to `.npy`. Errors are fine; panics, hangs and runaway memory are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensorjson::codec::pngfile::Layout;
use tensorjson::codec::{read_binary, write_binary, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = read_binary(data) {
        let _ = write_binary(item, &mut std::io::sink(), Format::Npy, Layout::default());
    }
});
