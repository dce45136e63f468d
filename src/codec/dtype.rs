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
    /// PyTorch's name, which the hand-rolled style writes (`torch.float32`).
    torch: &'static str,
    /// The safetensors dtype (huggingface/safetensors `Dtype`), where it has one.
    safetensors: Option<&'static str>,
    /// Other spellings accepted on read (Triton, PyTorch's short names, C).
    aliases: &'static [&'static str],
}

/// Bare names mean what `numpy.dtype(name)` makes of them (`float` is float64, `int` and
/// `long` int64, as on Linux); PyTorch's names carry their `torch.` prefix.
#[rustfmt::skip]
const TABLE: [Row; 14] = [
    Row { dtype: Dtype::Bool, name: "bool", kind: 'b', itemsize: 1, kserve: Some("BOOL"), torch: "torch.bool", safetensors: Some("BOOL"), aliases: &["?", "bool_"] },
    Row { dtype: Dtype::Int8, name: "int8", kind: 'i', itemsize: 1, kserve: Some("INT8"), torch: "torch.int8", safetensors: Some("I8"), aliases: &["I8", "byte"] },
    Row { dtype: Dtype::Int16, name: "int16", kind: 'i', itemsize: 2, kserve: Some("INT16"), torch: "torch.int16", safetensors: Some("I16"), aliases: &["I16", "short", "torch.short"] },
    Row { dtype: Dtype::Int32, name: "int32", kind: 'i', itemsize: 4, kserve: Some("INT32"), torch: "torch.int32", safetensors: Some("I32"), aliases: &["I32", "intc", "torch.int"] },
    Row { dtype: Dtype::Int64, name: "int64", kind: 'i', itemsize: 8, kserve: Some("INT64"), torch: "torch.int64", safetensors: Some("I64"), aliases: &["I64", "int", "int_", "intp", "long", "longlong", "torch.long"] },
    Row { dtype: Dtype::Uint8, name: "uint8", kind: 'u', itemsize: 1, kserve: Some("UINT8"), torch: "torch.uint8", safetensors: Some("U8"), aliases: &["U8", "ubyte"] },
    Row { dtype: Dtype::Uint16, name: "uint16", kind: 'u', itemsize: 2, kserve: Some("UINT16"), torch: "torch.uint16", safetensors: Some("U16"), aliases: &["U16", "ushort"] },
    Row { dtype: Dtype::Uint32, name: "uint32", kind: 'u', itemsize: 4, kserve: Some("UINT32"), torch: "torch.uint32", safetensors: Some("U32"), aliases: &["U32", "uintc"] },
    Row { dtype: Dtype::Uint64, name: "uint64", kind: 'u', itemsize: 8, kserve: Some("UINT64"), torch: "torch.uint64", safetensors: Some("U64"), aliases: &["U64", "uint", "uintp", "ulong", "ulonglong"] },
    Row { dtype: Dtype::Float16, name: "float16", kind: 'f', itemsize: 2, kserve: Some("FP16"), torch: "torch.float16", safetensors: Some("F16"), aliases: &["half", "F16", "torch.half"] },
    Row { dtype: Dtype::Float32, name: "float32", kind: 'f', itemsize: 4, kserve: Some("FP32"), torch: "torch.float32", safetensors: Some("F32"), aliases: &["single", "F32", "torch.float"] },
    Row { dtype: Dtype::Float64, name: "float64", kind: 'f', itemsize: 8, kserve: Some("FP64"), torch: "torch.float64", safetensors: Some("F64"), aliases: &["float", "double", "F64", "torch.double"] },
    Row { dtype: Dtype::Complex64, name: "complex64", kind: 'c', itemsize: 8, kserve: None, torch: "torch.complex64", safetensors: Some("C64"), aliases: &["csingle", "cfloat", "torch.cfloat"] },
    Row { dtype: Dtype::Complex128, name: "complex128", kind: 'c', itemsize: 16, kserve: None, torch: "torch.complex128", safetensors: None, aliases: &["complex", "cdouble", "torch.cdouble"] },
];

/// numpy's one-character type codes, at this platform's sizes (`l` is 64 bits, as on Linux
/// and macOS). `g` and `G` (long double) have no row, so they are refused.
const TYPE_CODES: [(char, Dtype); 20] = [
    ('?', Dtype::Bool),
    ('b', Dtype::Int8),
    ('B', Dtype::Uint8),
    ('h', Dtype::Int16),
    ('H', Dtype::Uint16),
    ('i', Dtype::Int32),
    ('I', Dtype::Uint32),
    ('l', Dtype::Int64),
    ('L', Dtype::Uint64),
    ('q', Dtype::Int64),
    ('Q', Dtype::Uint64),
    ('p', Dtype::Int64),
    ('P', Dtype::Uint64),
    ('n', Dtype::Int64),
    ('N', Dtype::Uint64),
    ('e', Dtype::Float16),
    ('f', Dtype::Float32),
    ('d', Dtype::Float64),
    ('F', Dtype::Complex64),
    ('D', Dtype::Complex128),
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
        if let Some(row) = TABLE.iter().find(|row| {
            row.name == text
                || row.kserve == Some(text)
                || row.torch == text
                || row.aliases.contains(&text)
        }) {
            return Ok((row.dtype, ByteOrder::Little));
        }
        Self::parse_descr(text).ok_or_else(|| UnknownDtype(text.to_string()))
    }

    /// Parses a numpy descr as `numpy.dtype` does: an optional byte order (`<`, `>`, `=`, `|`)
    /// and then a type code (`b` is int8, `?` bool) or a kind and size (`i4`, `b1`, `c16`).
    fn parse_descr(text: &str) -> Option<(Dtype, ByteOrder)> {
        let (order, rest) = match text.as_bytes().first()? {
            b'<' | b'|' | b'=' => (ByteOrder::Little, &text[1..]),
            b'>' => (ByteOrder::Big, &text[1..]),
            _ => (ByteOrder::Little, text),
        };
        let mut chars = rest.chars();
        let kind = chars.next()?;
        let size = chars.as_str();
        if size.is_empty() {
            let (_, dtype) = TYPE_CODES.iter().find(|(code, _)| *code == kind)?;
            return Some((*dtype, order));
        }
        if !size.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let itemsize: usize = size.parse().ok()?;
        let row = TABLE
            .iter()
            .find(|row| row.kind == kind && row.itemsize == itemsize)?;
        Some((row.dtype, order))
    }

    /// The Open Inference Protocol datatype (`FP32`), or `None` where it has none (complex).
    pub fn kserve_name(self) -> Option<&'static str> {
        self.row().kserve
    }

    /// PyTorch's name (`torch.float32`), as the hand-rolled style writes it.
    pub fn torch_name(self) -> &'static str {
        self.row().torch
    }

    /// The safetensors dtype (`F32`), or `None` where safetensors has none (complex128).
    pub fn safetensors_name(self) -> Option<&'static str> {
        self.row().safetensors
    }

    /// The dtype a safetensors header names (`F32`), if tensorjson carries it.
    pub fn from_safetensors(name: &str) -> Option<Dtype> {
        TABLE
            .iter()
            .find(|row| row.safetensors == Some(name))
            .map(|row| row.dtype)
    }

    /// The safetensors names of every dtype that has one, for errors.
    pub fn safetensors_names() -> String {
        let names: Vec<&str> = TABLE.iter().filter_map(|row| row.safetensors).collect();
        names.join(", ")
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
    fn torch_names_are_pytorchs_and_parse_back() {
        // str(torch.float32) and so on, spelled out here rather than derived from the name.
        #[rustfmt::skip]
        let torch = [
            "torch.bool", "torch.int8", "torch.int16", "torch.int32", "torch.int64",
            "torch.uint8", "torch.uint16", "torch.uint32", "torch.uint64", "torch.float16",
            "torch.float32", "torch.float64", "torch.complex64", "torch.complex128",
        ];
        for (dtype, name) in Dtype::ALL.into_iter().zip(torch) {
            assert_eq!(dtype.torch_name(), name);
            assert_eq!(Dtype::parse(name), Ok((dtype, ByteOrder::Little)));
        }
    }

    #[test]
    fn safetensors_names_are_the_references_and_parse_back() {
        // huggingface/safetensors `Dtype` (safetensors/src/tensor.rs), spelled out here.
        #[rustfmt::skip]
        let safetensors = [
            Some("BOOL"), Some("I8"), Some("I16"), Some("I32"), Some("I64"), Some("U8"),
            Some("U16"), Some("U32"), Some("U64"), Some("F16"), Some("F32"), Some("F64"),
            Some("C64"), None,
        ];
        for (dtype, name) in Dtype::ALL.into_iter().zip(safetensors) {
            assert_eq!(dtype.safetensors_name(), name);
            if let Some(name) = name {
                assert_eq!(Dtype::from_safetensors(name), Some(dtype));
            }
        }
        for other in ["BF16", "F8_E4M3", "f32", "C128", ""] {
            assert_eq!(Dtype::from_safetensors(other), None, "{other}");
        }
        assert!(Dtype::safetensors_names().starts_with("BOOL, I8, "));
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

    /// What `numpy.dtype(text)` gives (numpy 2.4 on x86-64 Linux), for every type code and
    /// bare name, with each byte-order prefix numpy accepts.
    #[test]
    fn type_codes_and_names_read_as_numpy_reads_them() {
        #[rustfmt::skip]
        let numpy = [
            ("b", "int8"), ("B", "uint8"), ("h", "int16"), ("H", "uint16"), ("i", "int32"),
            ("I", "uint32"), ("l", "int64"), ("L", "uint64"), ("q", "int64"), ("Q", "uint64"),
            ("p", "int64"), ("P", "uint64"), ("n", "int64"), ("N", "uint64"), ("e", "float16"),
            ("f", "float32"), ("d", "float64"), ("F", "complex64"), ("D", "complex128"),
            ("?", "bool"), ("b1", "bool"), ("i1", "int8"), ("u1", "uint8"), ("f2", "float16"),
        ];
        for (code, name) in numpy {
            for prefix in ["", "<", "=", "|"] {
                let text = format!("{prefix}{code}");
                let dtype = Dtype::parse(&text).map(|(dtype, _)| dtype.name());
                assert_eq!(dtype, Ok(name), "{text}");
            }
            let big = Dtype::parse(&format!(">{code}")).unwrap();
            assert_eq!(big.0.name(), name);
        }
        assert_eq!(Dtype::parse(">h"), Ok((Dtype::Int16, ByteOrder::Big)));
        #[rustfmt::skip]
        let names = [
            ("int", "int64"), ("float", "float64"), ("complex", "complex128"), ("long", "int64"),
            ("ulong", "uint64"), ("short", "int16"), ("ushort", "uint16"), ("intc", "int32"),
            ("uintc", "uint32"), ("uint", "uint64"), ("half", "float16"), ("single", "float32"),
            ("double", "float64"), ("byte", "int8"), ("ubyte", "uint8"), ("longlong", "int64"),
            ("ulonglong", "uint64"), ("csingle", "complex64"), ("cdouble", "complex128"),
            ("int_", "int64"), ("bool_", "bool"), ("intp", "int64"), ("uintp", "uint64"),
            ("torch.float", "float32"), ("torch.int", "int32"),
        ];
        for (text, name) in names {
            assert_eq!(
                Dtype::parse(text).map(|(dtype, _)| dtype.name()),
                Ok(name),
                "{text}"
            );
        }
        // Long double, bytes, and what numpy itself refuses.
        for refused in [
            "g", ">g", "G", "=G", "c", "u", "<u", "?1", "<float", "b2", "i+4",
        ] {
            assert!(Dtype::parse(refused).is_err(), "{refused}");
        }
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
