//! Arbitrary bytes as an `.npz` archive, every member drained. Errors are fine; panics, hangs
//! and runaway memory are bugs. The limit keeps honest archives that declare gigabytes from
//! being inflated in full, as `--max-bytes` does.
#![no_main]

use std::io::{self, Cursor};

use libfuzzer_sys::fuzz_target;
use tensorjson::codec::model::{Bundle, Named};
use tensorjson::codec::npz::NpzReader;
use tensorjson::Item;

const LIMIT: u64 = 16 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = NpzReader::new(Cursor::new(data), LIMIT) else {
        return;
    };
    while let Ok(Some(Named { item, .. })) = reader.next_item() {
        match item {
            Item::Tensor(mut tensor) => {
                let _ = io::copy(&mut tensor, &mut io::sink());
            }
            Item::Image(_) => unreachable!("an .npz member is a tensor"),
        }
    }
});
