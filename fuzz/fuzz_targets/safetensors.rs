//! Arbitrary bytes as a safetensors file, read with its size known and as a pipe, every tensor
//! drained. Errors are fine; panics, hangs and runaway memory are bugs.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use tensorjson::codec::model::{Bundle, Item};
use tensorjson::codec::safetensors::SafetensorsReader;

/// As `--max-bytes` bounds a run: a header may claim more data than the input holds.
const MAX_BYTES: u64 = 16 << 20;

fn drain(bundle: &mut dyn Bundle) -> tensorjson::Result<()> {
    while let Some(named) = bundle.next_item()? {
        if let Item::Tensor(mut tensor) = named.item {
            std::io::copy(&mut tensor, &mut std::io::sink())?;
        }
    }
    Ok(())
}

fn read(data: &[u8], size: Option<u64>) {
    if let Ok(mut reader) = SafetensorsReader::new(data, size, MAX_BYTES) {
        let _ = reader.metadata();
        let _ = drain(&mut reader);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data, Some(data.len() as u64));
    read(data, None);
    // A tensor dropped part way: the next is still found where it starts.
    if let Ok(mut reader) = SafetensorsReader::new(data, None, MAX_BYTES) {
        while let Ok(Some(named)) = reader.next_item() {
            if let Item::Tensor(mut tensor) = named.item {
                let _ = tensor.read(&mut [0u8; 3]);
            }
        }
    }
});
