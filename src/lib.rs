//! tensorjson moves NumPy arrays and PNG images in and out of JSON, bit-exact and streaming.
//!
//! Everything goes through one model ([`codec::model`]): a [`Tensor`] is a dtype, a shape
//! and its data in C order, little-endian, streamed from its source; an [`Image`] is a PNG
//! file's own bytes. Readers (`.npy`, PNG, each JSON dialect) produce the model; writers
//! consume it.
//!
//! ```
//! use tensorjson::codec::{self, dialect::ReadOptions, dialect::WriteOptions, Style};
//!
//! let json = br#"{"kind":"tensor","dtype":"int32","shape":[2],"data":"AQAAAAIAAAA="}"#;
//! let item = codec::read_json(&json[..], &ReadOptions::default()).unwrap();
//! let mut out = Vec::new();
//! codec::write_json(item, &mut out, Style::Native, &WriteOptions::default()).unwrap();
//! assert_eq!(&out[..out.len() - 1], &json[..]);
//! ```

pub mod codec;
pub mod error;
pub mod output;

pub use codec::dtype::Dtype;
pub use codec::model::{Color, Image, Item, Tensor, TensorHeader};
pub use error::{Error, Result};
