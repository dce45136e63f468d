//! json-numpy (PyPI): `{"__numpy__": b64, "dtype": "<i4", "shape": [2, 3]}`. The dtype is a
//! numpy descr, so it carries the byte order; the data is C order.

use std::io::Write;

use serde_json::json;

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{path, Encoding, ObjectReader, Plan, ReadOptions, WriteOptions};
use crate::codec::model::Item;
use crate::error::{Error, Result};

const KEY: &str = "__numpy__";

pub const READER: ObjectReader = ObjectReader {
    name: "json-numpy",
    looks_for: "\"__numpy__\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    fields.contains_key(KEY).then(|| {
        let (header, byte_order) = fields::header(fields, "dtype", "shape")?;
        fields::payload(fields, KEY)?;
        Ok(Plan::Tensor {
            header,
            path: path(&[KEY]),
            encoding: Encoding::plain(byte_order),
        })
    })
}

pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let Item::Tensor(mut tensor) = item else {
        return Err(Error::Envelope(
            "style json-numpy holds tensors, not images".to_string(),
        ));
    };
    let mut object = ObjectWriter::open(out, options.pretty)?;
    let header = tensor.header.clone();
    object.base64(KEY, "", &mut tensor, options.base64_threads())?;
    object.value("dtype", json!(header.dtype.descr()))?;
    object.value("shape", json!(header.shape))?;
    object.close()
}
