//! The dtype table: the one place that knows every element type, its names and its size.

use std::fmt;

/// An element type that tensorjson carries. The model always holds little-endian bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Float16,
    Float32,
    Float64,
    Complex64,
    Complex128,
}

/// Byte order of the elements in a source, as a numpy descr spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// One row of the table: every name a dtype is written or read as.
struct Row {
    dtype: Dtype,
    /// The name tensorjson writes (numpy's `str(dtype)`).
    name: &'static str,
    /// numpy's kind character and item size, as in the descr `<i4`.
    kind: char,
    itemsize: usize,
    /// The Open Inference Protocol (KServe, Triton) datatype, where it has one.
    kserve: Option<&'static str>,
    /// Other spellings accepted on read (Triton, PyTorch, C).
    aliases: &'static [&'static str],
}

#[rustfmt::skip]
const TABLE: [Row; 14] = [
    Row { dtype: Dtype::Bool, name: "bool", kind: 'b', itemsize: 1, kserve: Some("BOOL"), aliases: &["?", "bool_", "torch.bool"] },
    Row { dtype: Dtype::Int8, name: "int8", kind: 'i', itemsize: 1, kserve: Some("INT8"), aliases: &["I8", "torch.int8"] },
    Row { dtype: Dtype::Int16, name: "int16", kind: 'i', itemsize: 2, kserve: Some("INT16"), aliases: &["I16", "torch.int16", "short", "torch.short"] },
    Row { dtype: Dtype::Int32, name: "int32", kind: 'i', itemsize: 4, kserve: Some("INT32"), aliases: &["I32", "torch.int32", "int", "torch.int"] },
    Row { dtype: Dtype::Int64, name: "int64", kind: 'i', itemsize: 8, kserve: Some("INT64"), aliases: &["I64", "torch.int64", "long", "torch.long"] },
    Row { dtype: Dtype::Uint8, name: "uint8", kind: 'u', itemsize: 1, kserve: Some("UINT8"), aliases: &["U8", "torch.uint8"] },
    Row { dtype: Dtype::Uint16, name: "uint16", kind: 'u', itemsize: 2, kserve: Some("UINT16"), aliases: &["U16", "torch.uint16"] },
    Row { dtype: Dtype::Uint32, name: "uint32", kind: 'u', itemsize: 4, kserve: Some("UINT32"), aliases: &["U32", "torch.uint32"] },
    Row { dtype: Dtype::Uint64, name: "uint64", kind: 'u', itemsize: 8, kserve: Some("UINT64"), aliases: &["U64", "torch.uint64"] },
    Row { dtype: Dtype::Float16, name: "float16", kind: 'f', itemsize: 2, kserve: Some("FP16"), aliases: &["half", "F16", "torch.float16", "torch.half"] },
    Row { dtype: Dtype::Float32, name: "float32", kind: 'f', itemsize: 4, kserve: Some("FP32"), aliases: &["float", "single", "F32", "torch.float32", "torch.float"] },
    Row { dtype: Dtype::Float64, name: "float64", kind: 'f', itemsize: 8, kserve: Some("FP64"), aliases: &["double", "F64", "torch.float64", "torch.double"] },
    Row { dtype: Dtype::Complex64, name: "complex64", kind: 'c', itemsize: 8, kserve: None, aliases: &["cfloat", "csingle", "torch.complex64", "torch.cfloat"] },
    Row { dtype: Dtype::Complex128, name: "complex128", kind: 'c', itemsize: 16, kserve: None, aliases: &["cdouble", "torch.complex128", "torch.cdouble"] },
];

impl Dtype {
    /// Every dtype, in table order.
    pub const ALL: [Dtype; 14] = [
        Dtype::Bool,
        Dtype::Int8,
        Dtype::Int16,
        Dtype::Int32,
        Dtype::Int64,
        Dtype::Uint8,
        Dtype::Uint16,
        Dtype::Uint32,
        Dtype::Uint64,
        Dtype::Float16,
        Dtype::Float32,
        Dtype::Float64,
        Dtype::Complex64,
        Dtype::Complex128,
    ];

    fn row(self) -> &'static Row {
        // The table is in the same order as the enum, which the unit tests check.
        &TABLE[self as usize]
    }

    /// The name tensorjson writes: numpy's `str(dtype)`, e.g. `float32`.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Size of one element in bytes.
    pub fn itemsize(self) -> usize {
        self.row().itemsize
    }

    /// The numpy descr for little-endian data, e.g. `<f4`, or `|u1` where order does not apply.
    pub fn descr(self) -> String {
        let row = self.row();
        let order = if row.itemsize == 1 { '|' } else { '<' };
        format!("{order}{}{}", row.kind, row.itemsize)
    }

    /// The size of one scalar that must be byte-swapped: half the item for complex types.
    pub fn swap_unit(self) -> usize {
        if self.is_complex() {
            self.itemsize() / 2
        } else {
            self.itemsize()
        }
    }

    /// Looks a dtype up by any name it is known by: its own, an alias, or a numpy descr
    /// (`<i4`, `>f8`, `|u1`, `i4`, `f`...). Returns the byte order the name implies.
    pub fn parse(text: &str) -> Result<(Dtype, ByteOrder), UnknownDtype> {
        if let Some(row) = TABLE
            .iter()
            .find(|row| row.name == text || row.kserve == Some(text) || row.aliases.contains(&text))
        {
            return Ok((row.dtype, ByteOrder::Little));
        }
        Self::parse_descr(text).ok_or_else(|| UnknownDtype(text.to_string()))
    }

    /// Parses a numpy array-protocol descr such as `<i4`, `>c16`, `|b1` or `u2`.
    fn parse_descr(text: &str) -> Option<(Dtype, ByteOrder)> {
        let (order, rest) = match text.as_bytes().first()? {
            b'<' | b'|' | b'=' => (ByteOrder::Little, &text[1..]),
            b'>' => (ByteOrder::Big, &text[1..]),
            _ => (ByteOrder::Little, text),
        };
        let mut chars = rest.chars();
        let kind = chars.next()?;
        let size = chars.as_str();
        let itemsize: usize = if size.is_empty() && kind == 'b' {
            1
        } else {
            size.parse().ok()?
        };
        let row = TABLE
            .iter()
            .find(|row| row.kind == kind && row.itemsize == itemsize)?;
        Some((row.dtype, order))
    }

    /// The Open Inference Protocol datatype (`FP32`), or `None` where it has none (complex).
    pub fn kserve_name(self) -> Option<&'static str> {
        self.row().kserve
    }

    /// Whether elements are complex numbers.
    pub fn is_complex(self) -> bool {
        self.row().kind == 'c'
    }

    /// The dtype of one part of a complex number; other dtypes are their own.
    pub fn real_part(self) -> Dtype {
        match self {
            Dtype::Complex64 => Dtype::Float32,
            Dtype::Complex128 => Dtype::Float64,
            other => other,
        }
    }

    /// Whether elements are floating-point numbers (not complex).
    pub fn is_float(self) -> bool {
        self.row().kind == 'f'
    }

    /// The written names of every dtype, for help text and errors.
    pub fn names() -> String {
        Dtype::ALL.map(Dtype::name).join(", ")
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A dtype name that is in no row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDtype(pub String);

impl fmt::Display for UnknownDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported dtype {:?}; supported: {}",
            self.0,
            Dtype::names()
        )
    }
}

impl std::error::Error for UnknownDtype {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_follows_enum_order() {
        for (index, dtype) in Dtype::ALL.iter().enumerate() {
            assert_eq!(TABLE[index].dtype, *dtype);
            assert_eq!(*dtype as usize, index);
        }
    }

    #[test]
    fn every_name_and_descr_parses_back() {
        for dtype in Dtype::ALL {
            assert_eq!(Dtype::parse(dtype.name()), Ok((dtype, ByteOrder::Little)));
            assert_eq!(Dtype::parse(&dtype.descr()), Ok((dtype, ByteOrder::Little)));
        }
    }

    #[test]
    fn descr_byte_orders_and_short_forms() {
        assert_eq!(Dtype::parse(">f8"), Ok((Dtype::Float64, ByteOrder::Big)));
        assert_eq!(Dtype::parse("=i2"), Ok((Dtype::Int16, ByteOrder::Little)));
        assert_eq!(Dtype::parse("i4"), Ok((Dtype::Int32, ByteOrder::Little)));
        assert_eq!(
            Dtype::parse(">c16"),
            Ok((Dtype::Complex128, ByteOrder::Big))
        );
        assert_eq!(
            Dtype::parse("torch.float32"),
            Ok((Dtype::Float32, ByteOrder::Little))
        );
        assert_eq!(Dtype::parse("long"), Ok((Dtype::Int64, ByteOrder::Little)));
        assert_eq!(
            Dtype::parse("FP16"),
            Ok((Dtype::Float16, ByteOrder::Little))
        );
    }

    #[test]
    fn unsupported_names_list_the_supported_ones() {
        for bad in ["|O", "<U5", "|S3", "<f16", "<M8[s]", "", ">", "float128"] {
            let err = Dtype::parse(bad).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains("complex128"), "{message}");
        }
    }
}
