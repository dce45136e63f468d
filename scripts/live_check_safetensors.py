#!/usr/bin/env python3
"""Live interop check for safetensors: the `safetensors` package against tensorjson.

    PY=$(bash scripts/python-venv.sh)
    "$PY" scripts/live_check_safetensors.py write DIR      # files for tensorjson to read
    "$PY" scripts/live_check_safetensors.py check DIR      # files tensorjson wrote back

The functions are meant to be driven from a CLI check (tensorjson `encode x.safetensors`
then `decode -o y.safetensors`, and the reverse):

  write_fixtures(dir) -> {file name: Case}   writes files with safetensors.numpy.save_file
  check_file(path, case)                     reads `path` with safetensors.numpy.load_file
                                             and compares every tensor bit for bit, the
                                             names, the metadata, and (when the case gives
                                             one) the order of the tensors in the data

`check DIR` takes the files `write DIR` wrote, each as `DIR/<stem>.out.safetensors` (what
tensorjson made of `DIR/<stem>.safetensors`), and checks them against the same cases; the
data order expected is the input's (tensorjson keeps the order it reads, which is the
input's data order). One line per check, then `N passed, M failed`; exit status 1 if any
failed.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_harness import CheckFailed, expect, same_array  # noqa: E402

CARRIED = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64"]


@dataclass
class Case:
    tensors: dict[str, np.ndarray]
    metadata: dict[str, str] | None = None
    # Names in data order, when the order is part of what is checked.
    order: list[str] | None = field(default=None)


def awkward(dtype: np.dtype, shape: tuple) -> np.ndarray:
    """Values a lossy path would spoil: every byte pattern in turn, so NaN payloads too."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = (np.arange(count, dtype=np.uint64) * 37 + 11).astype(np.uint8)
    if dtype.kind == "b":
        raw = raw & 1
    return raw.view(dtype).reshape(shape)


def cases() -> dict[str, Case]:
    return {
        "every_dtype": Case({f"t_{name}": awkward(name, (2, 3)) for name in CARRIED}),
        "scalars": Case({"a": np.array(1.5), "b": np.array(-7, np.int8)}),
        "empty": Case({"none": np.zeros((0,), np.float32), "rows": np.zeros((4, 0), np.uint16)}),
        "several": Case({"input_ids": np.arange(8, dtype=np.int64).reshape(2, 4),
                         "attention_mask": np.ones((2, 4), np.bool_),
                         "weight": awkward("float32", (3, 5))},
                        metadata={"format": "np", "note": "caf\u00e9"}),
        "nothing": Case({}),
    }


def data_order(path: Path) -> list[str]:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    return sorted(header, key=lambda name: tuple(header[name]["data_offsets"]))


def write_fixtures(directory: Path) -> dict[str, Case]:
    """Writes one file per case with save_file; returns the cases by file name, each with
    the data order the reference chose."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for stem, case in cases().items():
        path = directory / f"{stem}.safetensors"
        safetensors.numpy.save_file(case.tensors, str(path), metadata=case.metadata)
        case.order = data_order(path)
        written[path.name] = case
    return written


def check_file(path: Path, case: Case) -> None:
    """Raises CheckFailed unless load_file reads `path` as `case`, bit for bit."""
    path = Path(path)
    loaded = safetensors.numpy.load_file(str(path))
    expect(sorted(loaded) == sorted(case.tensors),
           f"{path.name}: names {sorted(loaded)} != {sorted(case.tensors)}")
    for name, want in case.tensors.items():
        same_array(loaded[name], want, f"{path.name} {name}")
    with safe_open(str(path), framework="np") as opened:
        metadata = opened.metadata()
    expect(metadata == case.metadata, f"{path.name}: metadata {metadata!r} != {case.metadata!r}")
    if case.order is not None:
        order = data_order(path)
        expect(order == case.order, f"{path.name}: data order {order} != {case.order}")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("write", "check"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    directory = Path(argv[2])
    if argv[1] == "write":
        for name in write_fixtures(directory):
            print(f"wrote {directory / name}")
        return 0
    passed = failed = 0
    for stem, case in cases().items():
        source = directory / f"{stem}.safetensors"
        case.order = data_order(source)
        out = directory / f"{stem}.out.safetensors"
        try:
            check_file(out, case)
            print(f"ok   {out.name}")
            passed += 1
        except (CheckFailed, OSError, safetensors.SafetensorError) as error:
            print(f"FAIL {out.name}: {error}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
