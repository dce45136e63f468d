#!/usr/bin/env python3
"""The hand-written Python approach that tensorjson replaces, as the benchmark runs it.

    python py_reference.py encode x.npy out.json
    python py_reference.py decode x.json out.npy

This is deliberately the code a tutorial teaches, not an optimised version: the whole array,
its base64 bytes, the base64 text and the JSON text are all in memory at once. bench/run.py
runs each direction as its own process so that its wall time and peak RSS are measured alone.
The envelope it writes has tensorjson's native keys, so one verifier checks both.
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


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("encode", "decode"):
        sys.exit("usage: py_reference.py encode|decode INPUT OUTPUT")
    {"encode": encode, "decode": decode}[sys.argv[1]](sys.argv[2], sys.argv[3])
