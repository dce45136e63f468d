//! A pull scanner over JSON text that hands small values to serde_json and streams large
//! strings, so that a multi-gigabyte base64 field never sits in memory.

mod python_numbers;
mod scanner;
mod value;

pub use python_numbers::BIG_INTEGER;
pub use scanner::{Scanner, StringReader};
pub use value::{outline, parse, scalar};

/// Where the bytes of JSON text stand relative to strings, followed byte by byte.
#[derive(Default)]
struct StringState {
    in_string: bool,
    escaped: bool,
}

impl StringState {
    /// Steps over `byte`; true if it belongs to a string, its quotes included.
    fn step(&mut self, byte: u8) -> bool {
        if self.in_string {
            match (self.escaped, byte) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                (false, _) => {}
            }
            return true;
        }
        self.in_string = byte == b'"';
        self.in_string
    }
}
