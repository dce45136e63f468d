#!/usr/bin/env python3
"""Live check of several tensors in one run: real NumPy, json-numpy and json-tricks against a
built tensorjson binary.

    PY=$(bash scripts/python-venv.sh)
    "$PY" scripts/live_check_bundles.py target/release/tensorjson

Both ways, bit-exact, names and order kept:
  (a) `encode A B ...` of arrays numpy saved (every dtype, both byte orders, C and Fortran
      order, 0-d, empty) is read by Python: the native object of envelopes decoded by hand
      (base64, dtype, shape), json-numpy's and json-tricks' `loads` giving the dict of arrays,
      a KServe request read as a client reads it, and `--lines` read line by line;
  (b) what Python writes holding several arrays (json-numpy and json-tricks dumps of a dict, a
      KServe response with several outputs, JSON Lines of records) is decoded with
      `decode -o DIR/` into files `numpy.load` reads back;
  (c) safetensors: files `safetensors.numpy.save_file` wrote (every dtype, 0-d, empty, none,
      metadata) go to JSON and back to files `load_file` reads bit-exact with their names,
      metadata and data order; the JSON is the arrays `load_file` gives; a json-numpy dict
      decoded with `-o X.safetensors` keeps the dict's order.

One line per check (PASS/FAIL), then `N passed, M failed`; exit status 1 if any failed.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

try:
    import numpy as np
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"live_check_bundles: cannot import numpy ({exc}); run it with the venv python",
          file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

import json_numpy  # noqa: E402
import json_tricks  # noqa: E402
import safetensors.numpy  # noqa: E402

import live_check_safetensors as st  # noqa: E402

import check_harness as harness  # noqa: E402
from check_harness import CheckFailed, expect, same_array  # noqa: E402

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def sample(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(shape)
    if dtype.startswith("complex"):
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype).reshape(shape)
    return rng.standard_normal(n).astype(dtype).reshape(shape)


def arrays() -> dict[str, np.ndarray]:
    """Named arrays of every dtype, in both byte orders and memory orders, 0-d and empty."""
    found = {}
    for i, dtype in enumerate(DTYPES):
        arr = sample(dtype, (2, 3, 4), i)
        found[f"{dtype}_le_c"] = arr
        found[f"{dtype}_be_f"] = np.asfortranarray(arr.astype(arr.dtype.newbyteorder(">")))
    found["scalar"] = np.array(3.5, dtype="float64")
    found["empty"] = np.zeros((0, 3), dtype="int32")
    return found


def save_all(work: Path, named: dict[str, np.ndarray]) -> list[str]:
    """Saves each array with numpy as NAME.npy; the NAME=FILE arguments, in order."""
    args = []
    for name, arr in named.items():
        np.save(work / f"{name}.npy", arr)
        args.append(f"{name}={work / (name + '.npy')}")
    return args


def envelope_array(envelope: dict) -> np.ndarray:
    """A native envelope decoded by hand: base64 of little-endian C-order bytes."""
    expect(envelope["kind"] == "tensor", f"kind {envelope['kind']!r}")
    dtype = np.dtype(envelope["dtype"]).newbyteorder("<")
    data = base64.b64decode(envelope["data"], validate=True)
    return np.frombuffer(data, dtype=dtype).reshape(envelope["shape"])


def same_dict(got: dict, want: dict[str, np.ndarray], what: str) -> None:
    expect(list(got) == list(want), f"{what}: names {list(got)} != {list(want)}")
    for name, arr in want.items():
        same_array(got[name], arr, f"{what} {name}")


def loaded_directory(directory: Path, names: list[str]) -> dict[str, np.ndarray]:
    files = sorted(p.name for p in directory.iterdir())
    expect(files == sorted(f"{n}.npy" for n in names), f"files {files}")
    return {n: np.load(directory / f"{n}.npy") for n in names}


class Runner(harness.Runner):
    def encode_checks(self) -> None:
        named = arrays()

        def native(work: Path):
            out = self.tool.run("encode", *save_all(work, named))
            document = json.loads(out)
            same_dict({k: envelope_array(v) for k, v in document.items()}, named, "native")
        self.check("encode several: native object read by hand", native)

        def with_json_numpy(work: Path):
            out = self.tool.run("encode", "--style", "json-numpy", *save_all(work, named))
            same_dict(json_numpy.loads(out), named, "json-numpy loads")
        self.check("encode several: json-numpy loads the dict", with_json_numpy)

        def with_json_tricks(work: Path):
            out = self.tool.run("encode", "--style", "json-tricks", *save_all(work, named))
            same_dict(json_tricks.loads(out.decode()), named, "json-tricks loads")
        self.check("encode several: json-tricks loads the dict", with_json_tricks)

        real = {k: v for k, v in named.items() if not v.dtype.kind == "c" and k != "scalar"
                and v.dtype.name != "float16" and k != "empty"}

        def kserve(work: Path):
            out = self.tool.run("encode", "--style", "kserve", *save_all(work, real))
            request = json.loads(out)
            datatypes = {"BOOL": "bool", "INT8": "int8", "INT16": "int16", "INT32": "int32",
                         "INT64": "int64", "UINT8": "uint8", "UINT16": "uint16",
                         "UINT32": "uint32", "UINT64": "uint64", "FP32": "float32",
                         "FP64": "float64", "FP16": "float16"}
            got = {i["name"]: np.array(i["data"], dtype=datatypes[i["datatype"]]).reshape(i["shape"])
                   for i in request["inputs"]}
            same_dict(got, real, "kserve inputs")
        self.check("encode several: one KServe request, an input each", kserve)

        def lines(work: Path):
            out = self.tool.run("encode", "--lines", *save_all(work, named))
            rows = out.decode().splitlines()
            expect(len(rows) == len(named), f"{len(rows)} lines for {len(named)} arrays")
            got = {}
            for row in rows:
                record = json.loads(row)
                expect(len(record) == 1, f"a line holds {len(record)} items")
                (name, envelope), = record.items()
                got[name] = envelope_array(envelope)
            same_dict(got, named, "--lines")
        self.check("encode --lines: one named document a line", lines)

    def decode_checks(self) -> None:
        named = arrays()
        real = {k: v for k, v in named.items() if v.dtype.kind != "c"}

        def from_json_numpy(work: Path):
            (work / "in.json").write_text(json_numpy.dumps(named))
            self.tool.run("decode", work / "in.json", "-o", f"{work / 'out'}/")
            same_dict(loaded_directory(work / "out", list(named)), named, "json-numpy dict")
        self.check("decode -o DIR/: json-numpy dumps of a dict", from_json_numpy)

        def from_json_tricks(work: Path):
            (work / "in.json").write_text(json_tricks.dumps(named))
            self.tool.run("decode", work / "in.json", "-o", f"{work / 'out'}/")
            same_dict(loaded_directory(work / "out", list(named)), named, "json-tricks dict")
        self.check("decode -o DIR/: json-tricks dumps of a dict", from_json_tricks)

        def from_json_lines(work: Path):
            with open(work / "in.jsonl", "w") as f:
                for name, arr in real.items():
                    f.write(json.dumps({name: json.loads(json_numpy.dumps(arr))}) + "\n")
            self.tool.run("decode", work / "in.jsonl", "-o", f"{work / 'out'}/")
            same_dict(loaded_directory(work / "out", list(real)), real, "JSON Lines")
        self.check("decode -o DIR/: JSON Lines of json-numpy records", from_json_lines)

        def from_kserve_response(work: Path):
            outputs = [{"name": "logits", "shape": [2, 3], "datatype": "FP32",
                        "data": [0.5, -1.25, 3.0, 1e-8, 2.5, 7.0]},
                       {"name": "argmax", "shape": [2], "datatype": "INT64", "data": [2, 0]}]
            (work / "in.json").write_text(json.dumps({"model_name": "m", "outputs": outputs}))
            self.tool.run("decode", work / "in.json", "-o", f"{work / 'out'}/")
            want = {o["name"]: np.array(o["data"], dtype={"FP32": "float32", "INT64": "int64"}
                                        [o["datatype"]]).reshape(o["shape"]) for o in outputs}
            got = loaded_directory(work / "out", list(want))
            same_dict({k: got[k] for k in want}, want, "KServe outputs")
        self.check("decode -o DIR/: a KServe response's outputs", from_kserve_response)

        def refuses_escape(work: Path):
            arr = json.loads(json_numpy.dumps(np.arange(3)))
            (work / "in.json").write_text(json.dumps({"ok": arr, "../up": arr}))
            self.tool.refuse("decode", work / "in.json", "-o", f"{work / 'out'}/",
                             phrase="path separator")
            expect(not (work / "out").exists(), "the directory was left")
            expect(not (work / "up.npy").exists(), "a file escaped the directory")
        self.check("decode -o DIR/: a name leaving DIR is refused, nothing written",
                   refuses_escape)


def safetensors_checks(self: Runner) -> None:
    for stem, case in st.cases().items():
        def round_trip(work: Path, stem=stem):
            case = st.write_fixtures(work)[f"{stem}.safetensors"]
            json_text = self.tool.run("encode", work / f"{stem}.safetensors")
            (work / "x.json").write_bytes(json_text)
            self.tool.run("decode", work / "x.json", "-o", work / "back.safetensors")
            st.check_file(work / "back.safetensors", case)
        self.check(f"safetensors {stem}: save_file -> JSON -> load_file", round_trip)

    def read_by_hand(work: Path):
        case = st.write_fixtures(work)["several.safetensors"]
        document = json.loads(self.tool.run("encode", work / "several.safetensors"))
        expect(document.pop("__metadata__") == case.metadata, "metadata")
        expect(list(document) == case.order, f"order {list(document)} != {case.order}")
        loaded = safetensors.numpy.load_file(str(work / "several.safetensors"))
        same_dict({k: envelope_array(v) for k, v in document.items()},
                  {k: loaded[k] for k in case.order}, "safetensors as JSON")
    self.check("safetensors: encode gives the arrays load_file gives", read_by_hand)

    def from_json_numpy(work: Path):
        named = {k: v for k, v in arrays().items() if v.dtype.name != "complex128"}
        (work / "in.json").write_text(json_numpy.dumps(named))
        self.tool.run("decode", work / "in.json", "-o", work / "out.safetensors")
        loaded = safetensors.numpy.load_file(str(work / "out.safetensors"))
        same_dict({k: loaded[k] for k in named}, named, "json-numpy dict as safetensors")
        order = st.data_order(work / "out.safetensors")
        expect(order == list(named), f"data order {order}")
    self.check("decode -o X.safetensors: a json-numpy dict, order kept", from_json_numpy)


Runner.safetensors_checks = safetensors_checks


def main(argv: list[str]) -> int:
    def banner() -> str:
        return (f"NumPy {np.__version__}, json-numpy {getattr(json_numpy, '__version__', '?')}, "
                f"json-tricks {getattr(json_tricks, '__version__', '?')}, "
                f"safetensors {safetensors.__version__}")

    def run(runner: Runner) -> None:
        for part in (runner.encode_checks, runner.decode_checks, runner.safetensors_checks):
            try:
                part()
            except CheckFailed as e:
                runner.failed += 1
                print(f"FAIL {part.__name__}: {e}", flush=True)

    return harness.main(
        argv, name="live_check_bundles", description=__doc__.split("\n\n")[0],
        fixtures_help="unused", runner_class=Runner, banner=banner, run=run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
