//! `.npz` archives, as `numpy.savez` and `numpy.savez_compressed` write them: a zip archive
//! whose members are `.npy` files named `NAME.npy`. Members are read and written one at a
//! time, streaming, so memory stays flat however large the archive.

mod read;
mod write;

pub use read::NpzReader;
pub use write::NpzWriter;

/// What every member's name ends with; numpy strips it to give the array's name.
const SUFFIX: &str = ".npy";

// What the reader and the writer both need of the zip format.
const CENTRAL_SIGNATURE: &[u8] = b"PK\x01\x02";
const CENTRAL_FIXED_LEN: usize = 46;
const STORED: u16 = 0;

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::codec::model::Bundle;

    #[test]
    fn an_archive_with_no_members_is_an_empty_bundle() {
        let bytes = NpzWriter::new(Vec::new()).finish().unwrap();
        let mut reader = NpzReader::new(Cursor::new(bytes), 0).unwrap();
        assert!(reader.next_item().unwrap().is_none());
    }
}
