#!/usr/bin/env python3
"""The hand-written Python approach that tensorjson replaces, as the benchmark runs it.

    python py_reference.py encode x.npy out.json
    python py_reference.py decode x.json out.npy
    python py_reference.py orjson-encode x.npy out.json    # KServe v2, numbers as a list
    python py_reference.py orjson-decode x.json out.npy

This is deliberately the code a tutorial teaches, not an optimised version: the whole array,
its base64 bytes, the base64 text and the JSON text are all in memory at once. bench/run.py
runs each direction as its own process so that its wall time and peak RSS are measured alone.
The envelope it writes has tensorjson's native keys, so one verifier checks both.

The orjson pair is what KServe/Triton users reach for with number lists: `orjson.dumps` with
OPT_SERIALIZE_NUMPY, and `orjson.loads` + `numpy.array(.., dtype)`. It writes the request
`tensorjson encode --style kserve` writes (flat `data`), so one verifier checks both.
"""

import base64
import json
import sys

import numpy as np


def encode(src: str, dst: str) -> None:
    arr = np.load(src)
    doc = {
        "kind": "tensor",
        "dtype": str(arr.dtype),
        "shape": list(arr.shape),
        "data": base64.b64encode(arr.tobytes()).decode("ascii"),
    }
    with open(dst, "w") as f:
        f.write(json.dumps(doc))


def decode(src: str, dst: str) -> None:
    with open(src) as f:
        doc = json.load(f)
    arr = np.frombuffer(base64.b64decode(doc["data"]), dtype=doc["dtype"]).reshape(doc["shape"])
    np.save(dst, arr)


# KServe v2 datatype names, as tensorjson writes them.
KSERVE_DTYPES = {"float32": "FP32", "float64": "FP64", "int32": "INT32", "int64": "INT64"}


def orjson_encode(src: str, dst: str) -> None:
    import orjson

    arr = np.load(src)
    doc = {"inputs": [{"name": "input-0", "shape": list(arr.shape),
                       "datatype": KSERVE_DTYPES[str(arr.dtype)], "data": arr.reshape(-1)}]}
    with open(dst, "wb") as f:
        f.write(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))


def orjson_decode(src: str, dst: str) -> None:
    import orjson

    with open(src, "rb") as f:
        doc = orjson.loads(f.read())
    tensor = doc["inputs"][0]
    dtype = {v: k for k, v in KSERVE_DTYPES.items()}[tensor["datatype"]]
    np.save(dst, np.array(tensor["data"], dtype=dtype).reshape(tensor["shape"]))


COMMANDS = {"encode": encode, "decode": decode, "orjson-encode": orjson_encode,
            "orjson-decode": orjson_decode}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: py_reference.py {'|'.join(COMMANDS)} INPUT OUTPUT")
    COMMANDS[sys.argv[1]](sys.argv[2], sys.argv[3])
