#!/usr/bin/env python3
"""Live dialect interop check: the real json-numpy, json-tricks, jsonpickle and
jdata libraries (and hand-written KServe / TF Serving / LLM image payloads)
against a built tensorjson binary.

    PY=$(bash scripts/python-venv.sh)
    "$PY" scripts/live_check_dialects.py target/release/tensorjson [--fixtures]

For each dialect that has a Python library:
  (a) tensorjson's output (`encode --style NAME`) is read by that library's
      loads and equals the array bit for bit (dtype and little-endian C-order
      bytes), for every dtype the dialect can hold (json-numpy, json-tricks);
  (b) the library's own dumps output, in every form it has (json-tricks list /
      b64 / b64.gz, jsonpickle small / large (zlib and ndarray_compression=None) /
      views, jdata plain / zlib / gzip / base64 / scalar _ArraySize_ / null NaN), is decoded by `tensorjson decode` bit for bit, for every dtype.
Also: KServe requests written by tensorjson, read the way a Python client
would (np.array(data, dtype).reshape(shape)); TF Serving and plain lists
against arr.tolist(); npy-base64; data-url / openai / anthropic / gemini image
parts carry base64 of the exact PNG bytes; and the refusals (complex in
KServe, float16 in TF Serving, NaN without --allow-nan, object arrays, the
binary-data extension); the hand-rolled style read as services read it
(numpy.frombuffer of the base64 with the dtype from its torch name; PIL.Image.open
of the base64 PNG), and the payloads such services write decoded bit-exact.  --fixtures also runs fixtures/dialects/INDEX.json.

One line per check (PASS/FAIL), then `N passed, M failed`; exit status 1 if
any check failed (or the binary is missing), 0 otherwise.  A check whose
option the binary does not know yet fails with the binary's message; the
script itself never stops early.

CLI contract exercised:
    tensorjson encode INPUT.npy --style native|json-numpy|json-tricks|kserve|tf-serving|npy-base64|list
                                [--name NAME] [--allow-nan]
    tensorjson encode INPUT.npy --style hand-rolled
    tensorjson encode INPUT.png --style native|data-url|openai|anthropic|gemini|hand-rolled [--raw]
    tensorjson decode INPUT.json -o OUT.npy|OUT.png [--name NAME] [--dtype DTYPE]
"""

from __future__ import annotations

import base64
import io
import json
from decimal import Decimal
import sys
import warnings
from pathlib import Path


try:
    import numpy as np
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"live_check_dialects: cannot import numpy ({exc}); run it with the venv python:\n"
          f"    \"$(bash scripts/python-venv.sh)\" scripts/live_check_dialects.py BINARY", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

import check_harness as harness  # noqa: E402 (needs numpy, checked above)
from check_harness import (CheckFailed, Tool, canonical, describe, expect,  # noqa: E402
                           same_array, written)

warnings.simplefilter("ignore")  # jsonpickle / json-tricks deprecation notices


def _try_import(name: str):
    try:
        return __import__(name, fromlist=["_"])
    except Exception as e:  # noqa: BLE001 - report, never crash
        return e


json_numpy = _try_import("json_numpy")
json_tricks = _try_import("json_tricks")
jsonpickle = _try_import("jsonpickle")
jsonpickle_numpy = _try_import("jsonpickle.ext.numpy")
jdata = _try_import("jdata")
PIL_Image = _try_import("PIL.Image")

if not isinstance(jsonpickle_numpy, Exception):
    jsonpickle_numpy.register_handlers()

DTYPES = [
    "bool",
    "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
    "complex64", "complex128",
]
REAL_DTYPES = [d for d in DTYPES if not d.startswith("complex")]
KSERVE = {"bool": "BOOL", "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
          "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
          "float16": "FP16", "float32": "FP32", "float64": "FP64"}
KSERVE_BACK = {v: k for k, v in KSERVE.items()}
KSERVE_BACK["BF16"] = "float32"
JD_TYPE = {"bool": "uint8", "float32": "single", "float64": "double",
           "complex64": "single", "complex128": "double"}
UINT_FOR = {2: np.uint16, 4: np.uint32, 8: np.uint64}
RAW_NAN = {  # bit patterns a lossy float path would canonicalise
    "float16": [0x7C01, 0xFE01, 0x8000],
    "float32": [0x7F800001, 0xFFC00123, 0x80000000],
    "float64": [0x7FF0000000000001, 0xFFF8000000000123, 0x8000000000000000],
}
PNG_SIG = b"\x89PNG\r\n\x1a\n"
# str(torch.<dtype>) -> the numpy dtype a service hands numpy.frombuffer (little-endian)
TORCH = {"torch.bool": "|b1", "torch.int8": "|i1", "torch.int16": "<i2", "torch.int32": "<i4",
         "torch.int64": "<i8", "torch.uint8": "|u1", "torch.uint16": "<u2", "torch.uint32": "<u4",
         "torch.uint64": "<u8", "torch.float16": "<f2", "torch.float32": "<f4", "torch.float64": "<f8",
         "torch.complex64": "<c8", "torch.complex128": "<c16"}
TORCH_NAME = {np.dtype(v).name: k for k, v in TORCH.items()}


def need(mod, name: str):
    if isinstance(mod, Exception):
        raise CheckFailed(f"{name} is not importable ({mod}); install scripts/requirements.txt "
                          f"(bash scripts/python-venv.sh) and run with that python")
    return mod


# --------------------------------------------------------------------------
# running the binary
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# arrays and comparisons
# --------------------------------------------------------------------------

def same_values_nan(got, want, what: str) -> None:
    """Bit-exact except that any NaN matches any NaN (list forms cannot keep payloads)."""
    got, want = np.asarray(got), np.asarray(want)
    expect(got.dtype.name == want.dtype.name, f"{what}: dtype {got.dtype.name} != {want.dtype.name}")
    expect(tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}")
    part = {"complex64": "float32", "complex128": "float64"}.get(want.dtype.name, want.dtype.name)
    if part not in RAW_NAN:
        return same_array(got, want, what)
    g = canonical(got).view(part).ravel()
    w = canonical(want).view(part).ravel()
    gn, wn = np.isnan(g), np.isnan(w)
    expect(np.array_equal(gn, wn), f"{what}: NaN positions differ")
    u = UINT_FOR[np.dtype(part).itemsize]
    expect(np.array_equal(g[~gn].view(u), w[~wn].view(u)), f"{what}: non-NaN values differ (bits)")


def strict_json(text, what: str):
    """Parse standard JSON: NaN/Infinity tokens are not JSON."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckFailed(f"{what}: not UTF-8")

    def bad(tok):
        raise CheckFailed(f"{what}: non-standard JSON token {tok}")
    try:
        return json.loads(text, parse_constant=bad)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{what}: not JSON ({e}): {text[:100]!r}")


def lax_json(text, what: str):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{what}: not JSON even with NaN tokens ({e}): {text[:100]!r}")


def b64strict(s, what: str) -> bytes:
    expect(isinstance(s, str), f"{what}: base64 field is {type(s).__name__}, not a string")
    try:
        return base64.b64decode(s, validate=True)
    except ValueError as e:
        raise CheckFailed(f"{what}: not strict padded base64 ({e})")


def load_npy(path: Path) -> np.ndarray:
    data = written(path)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise CheckFailed(f"{path.name}: np.load failed: {type(e).__name__}: {e}")


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def random_bits(name: str, shape, rng) -> np.ndarray:
    """Random bit patterns (NaNs with random payloads), specials and raw NaNs set."""
    dt = np.dtype(name).newbyteorder("<")
    n = int(np.prod(shape))
    if name == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    arr = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt).copy()
    if name.startswith(("int", "uint")) and n >= 2:
        info = np.iinfo(name)
        arr[0], arr[1] = info.min, info.max
    part = {"complex64": "float32", "complex128": "float64"}.get(name, name)
    if part in RAW_NAN:
        fv = arr.view(part)
        specials = [0.0, np.inf, -np.inf, np.nan, -0.0, -2.5]
        k = min(len(specials), fv.size)
        fv[:k] = specials[:k]
        u = fv.view(UINT_FOR[np.dtype(part).itemsize])
        for i, bits in enumerate(RAW_NAN[part]):
            if k + i < u.size:
                u[k + i] = bits
    return arr.reshape(shape)


def finite(name: str, shape, rng) -> np.ndarray:
    """Finite values with the interesting edges (min/max, -0.0, subnormals, 0.1)."""
    n = int(np.prod(shape))
    if name == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if name.startswith(("int", "uint")):
        info = np.iinfo(name)
        arr = rng.integers(info.min, info.max, size=n, dtype=name, endpoint=True)
        edges = [info.min, info.max, 0, 1] + ([-1] if info.min < 0 else [])
        arr[:min(n, len(edges))] = edges[:n]
        return arr.reshape(shape)
    part = {"complex64": "float32", "complex128": "float64"}.get(name, name)
    fi = np.finfo(part)
    edges = [0.0, -0.0, 0.1, float(fi.max), -float(fi.max), float(fi.smallest_subnormal),
             float(fi.smallest_normal), float(fi.eps), 1.0 / 3.0]
    m = n * (2 if part != name else 1)
    vals = (rng.standard_normal(m) * 10.0 ** rng.integers(-6, 6, size=m)).astype(part)
    vals[:min(m, len(edges))] = np.array(edges[:m], dtype=part)
    vals = np.where(np.isfinite(vals), vals, np.array(1.5, dtype=part)).astype(part)
    return vals.view(name).reshape(shape) if part != name else vals.reshape(shape)


def repetitive(name: str, n: int = 512) -> np.ndarray:
    """Long and repetitive, so gzip/zlib shrink it (json-tricks picks b64.gz)."""
    k = np.arange(n)
    if name == "bool":
        return (k % 5) == 0
    if name.startswith(("int", "uint")):
        return (k % 17).astype(name)
    if name.startswith("float"):
        return ((k % 17) * 0.5).astype(name)
    return ((k % 17) * 0.5 + 1j * (k % 3)).astype(name)


def variants(arr: np.ndarray, fortran: bool = True, big: bool = True):
    """(le C, be C, le F, be F) forms of one array, where they differ."""
    out = [arr]
    if big and arr.dtype.itemsize > 1:
        out.append(arr.astype(arr.dtype.newbyteorder(">")))
    if fortran and arr.ndim > 1:
        out += [np.asfortranarray(a) for a in list(out)]
    return out


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------

class Runner(harness.Runner):
    def __init__(self, tool: Tool, tmp: Path, only: list[str], skip: list[str]):
        super().__init__(tool, tmp, only, skip)
        self.rng = np.random.default_rng(20240612)

    # ---- helpers ---------------------------------------------------------

    def encode(self, d: Path, arr, *style_args) -> bytes:
        np.save(d / "x.npy", arr, allow_pickle=False)
        return self.tool.run("encode", d / "x.npy", *style_args)

    def decode_text(self, d: Path, text, *args) -> np.ndarray:
        p = d / "in.json"
        p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        out = d / "out.npy"
        self.tool.run("decode", p, "-o", out, *args)
        return load_npy(out)

    def decode_check(self, label: str, text_fn, want, *args, nan_any: bool = False) -> None:
        def run(d: Path):
            text = text_fn()
            got = self.decode_text(d, text, *args)
            (same_values_nan if nan_any else same_array)(got, want, "decoded .npy")
        self.check(label, run)

    def refuse_check(self, label: str, text_fn, phrase: str | None = None, *args) -> None:
        def run(d: Path):
            p = d / "in.json"
            text = text_fn()
            p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
            self.tool.refuse("decode", p, "-o", d / "out.npy", *args, phrase=phrase, out=d / "out.npy")
        self.check(label, run)

    def encode_refuse_check(self, label: str, arr, *style_args) -> None:
        def run(d: Path):
            np.save(d / "x.npy", arr, allow_pickle=False)
            self.tool.refuse("encode", d / "x.npy", *style_args, "-o", d / "x.json", out=d / "x.json")
        self.check(label, run)

    def extras(self):
        rng = self.rng
        return [
            np.array(-2.5, dtype="<f8"),
            np.array(-12345, dtype=">i2"),
            np.zeros((0,), dtype="<f4"),
            np.zeros((2, 0, 3), dtype=">u4"),
            finite("float32", (2, 1, 3, 1, 2), rng),
            finite("int64", (1,), rng),
        ]

    # ---- json-numpy --------------------------------------------------------

    def json_numpy_checks(self) -> None:
        rng = self.rng
        arrays = []
        for name in DTYPES:
            arrays += variants(random_bits(name, (2, 3, 4), rng))
        arrays += self.extras()
        for arr in arrays:
            def enc(d: Path, arr=arr):
                jn = need(json_numpy, "json-numpy")
                out = self.encode(d, arr, "--style", "json-numpy")
                obj = strict_json(out, "stdout")
                expect(isinstance(obj, dict) and "__numpy__" in obj, f"no __numpy__ key: {out[:80]!r}")
                dt = obj.get("dtype")
                expect(isinstance(dt, str) and dt[:1] in "<>|=", f"dtype {dt!r} is not a numpy descr")
                expect(obj.get("shape") == list(arr.shape), f"shape {obj.get('shape')} != {list(arr.shape)}")
                back = jn.loads(out.decode("utf-8"))
                same_array(np.asarray(back), arr, "json_numpy.loads(tensorjson output)")
            self.check(f"json-numpy  encode->loads  {describe(arr)}", enc)
            self.decode_check(f"json-numpy  dumps->decode  {describe(arr)}",
                              lambda arr=arr: need(json_numpy, "json-numpy").dumps(arr), arr)
        sc = np.float32(3.25)
        self.decode_check("json-numpy  dumps->decode  numpy scalar float32",
                          lambda: need(json_numpy, "json-numpy").dumps(sc), np.array(sc))
        nested = finite("int16", (3, 2), rng)
        self.decode_check("json-numpy  dumps->decode  one level down {\"payload\": ...}",
                          lambda: need(json_numpy, "json-numpy").dumps({"payload": nested, "id": 7}), nested)
        self.refuse_check("json-numpy  refuse object array (|O)",
                          lambda: need(json_numpy, "json-numpy").dumps(np.array(["a", 1], dtype=object)), "|O")

    # ---- json-tricks -------------------------------------------------------

    def json_tricks_checks(self) -> None:
        rng = self.rng
        compact = {"ndarray_compact": True}

        def jt():
            return need(json_tricks, "json-tricks")

        # (a) tensorjson -> json_tricks.loads, finite values
        arrays = []
        for name in DTYPES:
            arrays += variants(finite(name, (2, 3, 4), rng))
        arrays += [np.array(-2.5), np.array(7, dtype=">i4"), np.zeros((0,), "<f4"), np.zeros((2, 0), "<i2"),
                   finite("float32", (2, 1, 3, 1, 2), rng), np.array(1.5 - 2j), np.array(0.1 + 3j, "<c8"),
                   np.array(np.float16(0.1)), np.array(True)]
        for arr in arrays:
            def enc(d: Path, arr=arr):
                out = self.encode(d, arr, "--style", "json-tricks")
                obj = strict_json(out, "stdout")
                expect(isinstance(obj, dict) and "__ndarray__" in obj, f"no __ndarray__ key: {out[:80]!r}")
                back = np.asarray(jt().loads(out.decode("utf-8")))
                data = obj["__ndarray__"]
                if arr.dtype.kind == "c" and not isinstance(data, str):
                    # list form: json-tricks' hook computes re + im*1j and loses the sign
                    # of zero parts, so check its values and the written parts' bits
                    expect(back.dtype == arr.dtype and back.shape == arr.shape,
                           f"json_tricks.loads: {back.dtype} {back.shape}")
                    expect(np.array_equal(back, arr), "json_tricks.loads(tensorjson output): values differ")
                    parts = np.array([c["__complex__"] for c in np.array(data, dtype=object).ravel()]
                                     if arr.size else [], dtype=arr.real.dtype)
                    same_array(parts.reshape(-1).view(arr.dtype).reshape(arr.shape), arr,
                               "__complex__ parts as written")
                else:
                    same_array(back, arr, "json_tricks.loads(tensorjson output)")
            self.check(f"json-tricks encode->loads  {describe(arr)}", enc)

        # non-finite: refused without --allow-nan (unless the form is binary), kept with it
        for name in ("float16", "float32", "float64", "complex128"):
            arr = random_bits(name, (3, 4), rng)

            def nan_default(d: Path, arr=arr):
                np.save(d / "x.npy", arr, allow_pickle=False)
                proc = self.tool.raw("encode", d / "x.npy", "--style", "json-tricks")
                if proc.returncode == 0:
                    obj = strict_json(proc.stdout, "stdout")
                    back = np.asarray(jt().loads(proc.stdout.decode("utf-8")))
                    expect(isinstance(obj.get("__ndarray__"), str), "NaN written without --allow-nan")
                    same_array(back, arr, "json_tricks.loads (binary form)")
                else:
                    err = proc.stderr.decode("utf-8", "replace")
                    expect(proc.returncode == 1 and err.startswith("error:"),
                           f"exit {proc.returncode}: {err.strip()[:160]!r}")
            self.check(f"json-tricks encode NaN/inf without --allow-nan: binary or refused  {describe(arr)}",
                       nan_default)

            def nan_allowed(d: Path, arr=arr):
                # A (3, 4) array is written as base64, where --allow-nan does nothing: a usage
                # error, not silently ignored. A 0-d one is a bare number, where it applies.
                np.save(d / "x.npy", arr, allow_pickle=False)
                self.tool.refuse("encode", d / "x.npy", "--style", "json-tricks", "--allow-nan",
                                 phrase="--allow-nan", code=2)
                scalar = arr.reshape(-1)[:1].reshape(())
                out = self.encode(d, scalar, "--style", "json-tricks", "--allow-nan")
                back = np.asarray(jt().loads(out.decode("utf-8")))
                expect(back.dtype == scalar.dtype and back.shape == (), "dtype/shape")
                if arr.dtype.kind != "c":
                    same_values_nan(back, scalar, "json_tricks.loads (0-d, NaN token)")
            self.check(f"json-tricks encode --allow-nan: usage error for base64, tokens for 0-d  "
                       f"{describe(arr)}", nan_allowed)

        # (b) json_tricks.dumps -> tensorjson decode, every form
        for name in DTYPES:
            base = finite(name, (2, 3, 4), rng)
            for arr in variants(base):
                self.decode_check(f"json-tricks list->decode  {describe(arr)}",
                                  lambda arr=arr: jt().dumps(arr), arr)
            noisy = random_bits(name, (2, 3, 4), rng)
            for arr in variants(noisy, fortran=False):  # compact cannot write Fortran arrays
                def b64_text(arr=arr):
                    t = jt().dumps(arr, properties=dict(compact))
                    expect(json.loads(t)["__ndarray__"].startswith(("b64:", "b64.gz:")), "not compact")
                    return t
                self.decode_check(f"json-tricks b64->decode  {describe(arr)}", b64_text, arr)
            for arr in variants(repetitive(name), fortran=False):
                def gz_text(arr=arr):
                    t = jt().dumps(arr, properties=dict(compact))
                    expect(json.loads(t)["__ndarray__"].startswith("b64.gz:"),
                           "json-tricks did not pick b64.gz for a repetitive array")
                    return t
                self.decode_check(f"json-tricks b64.gz->decode  {describe(arr)}", gz_text, arr)
            if name in ("int32", "float64", "complex64", "uint16"):
                be = noisy.astype(noisy.dtype.newbyteorder(">"))
                for prop in ("big", "little", "suppress"):
                    self.decode_check(
                        f"json-tricks b64 ndarray_store_byteorder={prop}->decode  {describe(be)}",
                        lambda be=be, prop=prop: jt().dumps(be, properties=dict(compact, ndarray_store_byteorder=prop)),
                        be)
                    self.decode_check(
                        f"json-tricks b64 ndarray_store_byteorder={prop}->decode  {describe(noisy)}",
                        lambda n=noisy, prop=prop: jt().dumps(n, properties=dict(compact, ndarray_store_byteorder=prop)),
                        noisy)
        for arr in (np.array(-2.5), np.array(-123456789, dtype=">i4"), np.array(True),
                    np.zeros((0,), "<f4"), np.zeros((2, 0), "<i2")):
            self.decode_check(f"json-tricks list->decode  {describe(arr)}", lambda arr=arr: jt().dumps(arr), arr)
            self.decode_check(f"json-tricks b64->decode  {describe(arr)}",
                              lambda arr=arr: jt().dumps(arr, properties=dict(compact)), arr)
        for name in ("float16", "float32", "float64"):
            arr = np.array([[np.nan, np.inf], [-np.inf, -0.0]], dtype=name)
            self.decode_check(f"json-tricks list allow_nan (NaN/Infinity tokens)->decode  {describe(arr)}",
                              lambda arr=arr: jt().dumps(arr, allow_nan=True), arr, nan_any=True)
        w = finite("float32", (3, 3), rng)
        self.decode_check("json-tricks dumps->decode  one level down {\"weights\": ...}",
                          lambda: jt().dumps({"weights": w, "epoch": 3}, properties=dict(compact)), w)

    # ---- jsonpickle (read only) --------------------------------------------------

    def jsonpickle_checks(self) -> None:
        rng = self.rng

        def jp():
            need(jsonpickle_numpy, "jsonpickle.ext.numpy")
            return need(jsonpickle, "jsonpickle")

        def fresh(a):
            return np.array(a, copy=True, order="K")

        for name in DTYPES:
            small = fresh(finite(name, (2, 3), rng))
            for arr in variants(small):
                arr = fresh(arr)
                self.decode_check(f"jsonpickle small(values list)->decode  {describe(arr)}",
                                  lambda arr=arr: jp().encode(arr), arr)
            large = fresh(random_bits(name, (4, 6), rng))
            for arr in variants(large):
                arr = fresh(arr)

                def text(arr=arr):
                    t = jp().encode(arr)
                    expect(isinstance(json.loads(t)["values"], str), "not the binary form")
                    return t
                self.decode_check(f"jsonpickle large(b64 zlib)->decode  {describe(arr)}", text, arr)
        # ndarray_compression=None: base64 of the raw bytes under the same keys as zlib
        def raw_text(arr):
            jp()
            jsonpickle_numpy.register_handlers(ndarray_compression=None)
            try:
                t = jp().encode(arr)
            finally:
                jsonpickle_numpy.register_handlers()
            expect(b64strict(json.loads(t)["values"], "values") == arr.tobytes(order="A"), "not raw bytes")
            return t
        for name in DTYPES:
            for arr in variants(fresh(random_bits(name, (4, 6), rng))):
                arr = fresh(arr)
                self.decode_check(f"jsonpickle large(b64 raw, ndarray_compression=None)->decode  {describe(arr)}",
                                  lambda arr=arr: raw_text(arr), arr)
        lookalike = fresh(random_bits("uint8", (4, 6), rng))
        lookalike.reshape(-1)[:2] = (0x78, 0x9C)
        self.decode_check("jsonpickle large(b64 raw) starting like zlib (78 9c)->decode",
                          lambda: raw_text(lookalike), lookalike)
        views = [
            ("reshape of arange (base, small)", np.arange(6, dtype="<i4").reshape(2, 3)),
            ("reshape of arange (base, large)", (np.arange(24, dtype="<f8") * 0.5).reshape(4, 6)),
            ("slice (offset)", (np.arange(40, dtype="<i4") * 3)[10:30]),
            ("transpose (strides)", (np.arange(24, dtype="<f4") * 0.5).reshape(4, 6).T),
            ("step slice (strides)", np.arange(40, dtype="<i2")[::2]),
            ("byteswapped view (byteorder S)", np.arange(20, dtype="<i4").view(">i4")),
        ]
        for label, arr in views:
            self.decode_check(f"jsonpickle view {label}->decode  {describe(arr)}",
                              lambda arr=arr: jp().encode(arr), arr)
        for arr in (np.array(2.5), np.zeros((0, 3), "<f4"), fresh(np.arange(16, dtype="<u2")),
                    fresh(np.arange(17, dtype="<u2"))):
            self.decode_check(f"jsonpickle ->decode  {describe(arr)}", lambda arr=arr: jp().encode(arr), arr)
        arr = np.array([np.nan, np.inf, -np.inf, -0.0])
        self.decode_check("jsonpickle small NaN/Infinity tokens->decode", lambda: jp().encode(arr), arr,
                          nan_any=True)

    # ---- jdata (read only) ----------------------------------------------------------

    def jdata_checks(self) -> None:
        rng = self.rng

        def jd():
            return need(jdata, "jdata")

        def want_of(arr):
            return canonical(arr).astype(np.uint8) if arr.dtype == np.bool_ else arr

        for name in DTYPES:
            arr = finite(name, (2, 3, 4), rng)
            for a in variants(arr, big=not name.startswith("complex")):  # jdata breaks BE complex itself
                self.decode_check(f"jdata plain->decode  {describe(a)}",
                                  lambda a=a: jd().show(a, string=True), want_of(a))
            noisy = random_bits(name, (2, 3, 4), rng)
            for comp in ("zlib", "gzip", "base64"):
                for a in variants(noisy, big=not name.startswith("complex")):
                    def text(a=a, comp=comp):
                        t = jd().show(a, string=True, compressarraysize=1, compression=comp)
                        expect(json.loads(t).get("_ArrayZipType_") == comp, "not the zipped form")
                        return t
                    self.decode_check(f"jdata {comp}->decode  {describe(a)}", text, want_of(a))
        big = (np.arange(300, dtype="<i2") % 17) * 100
        self.decode_check("jdata default (>= 300 elements zlib)->decode  int16 (300,)",
                          lambda: jd().show(big, string=True), big)
        for a in (np.array(-2.5), np.zeros((0, 3), "<f4")):
            self.decode_check(f"jdata plain->decode  {describe(a)}", lambda a=a: jd().show(a, string=True), a)
            self.decode_check(f"jdata zlib->decode  {describe(a)}",
                              lambda a=a: jd().show(a, string=True, compressarraysize=1), a)
        a = np.array([np.nan, np.inf, -np.inf, -0.0])
        self.decode_check("jdata plain NaN/Infinity tokens->decode", lambda: jd().show(a, string=True), a,
                          nan_any=True)
        col = np.array([[1, 3, 5], [2, 4, 6]], dtype="<i4")
        self.decode_check("jdata _ArrayOrder_ c (column-major)->decode",
                          lambda: json.dumps({"_ArrayType_": "int32", "_ArraySize_": [2, 3], "_ArrayOrder_": "c",
                                              "_ArrayData_": [1, 2, 3, 4, 5, 6]}), col)
        c = complex(*finite("float64", (2,), rng))
        self.decode_check("jdata complex scalar (_ArraySize_ 1)->decode  0-d complex128",
                          lambda: jd().show(c, string=True), np.array(c))
        for size, data, jtype in ((3, [1.5, -2.0, 3.0], "double"), (1, [-7], "int32")):
            doc = {"_ArrayType_": jtype, "_ArraySize_": size, "_ArrayData_": data}
            want = np.asarray(jd().decode(doc.copy()), dtype="<f8" if jtype == "double" else "<i4")
            self.decode_check(f"jdata _ArraySize_ {size} (one number)->decode  as jdata.decode",
                              lambda doc=doc: json.dumps(doc), want)
        for jtype in ("double", "single", "float16"):
            doc = {"_ArrayType_": jtype, "_ArraySize_": [2, 2], "_ArrayData_": [1.5, None, -0.0, None]}
            want = jd().loadts(json.dumps(doc))
            self.decode_check(f"jdata null (NaN as MATLAB/JavaScript write it)->decode  {jtype}",
                              lambda doc=doc: json.dumps(doc), want)
        self.refuse_check("jdata null in int32 data (jdata.decode refuses it too)",
                          lambda: json.dumps({"_ArrayType_": "int32", "_ArraySize_": [2], "_ArrayData_": [1, None]}),
                          "null")
        inner = finite("float64", (2, 2), rng)
        self.decode_check("jdata ->decode  one level down {\"scan\": ...}",
                          lambda: jd().show({"scan": inner}, string=True), inner)

    # ---- KServe / Open Inference Protocol ---------------------------------------------

    def kserve_checks(self) -> None:
        rng = self.rng
        arrays = []
        for name in REAL_DTYPES:
            arrays += variants(finite(name, (2, 3, 4), rng))
        arrays += [np.array(-2.5), np.zeros((0, 3), "<f4"), finite("uint8", (1, 4, 4, 3), rng)]
        for arr in arrays:
            for name_arg in ([], ["--name", "pixel_values"]):
                def enc(d: Path, arr=arr, name_arg=name_arg):
                    out = self.encode(d, arr, "--style", "kserve", *name_arg)
                    obj = strict_json(out, "stdout")
                    expect(isinstance(obj, dict) and isinstance(obj.get("inputs"), list) and len(obj["inputs"]) == 1,
                           f"not a request with one input: {out[:100]!r}")
                    inp = obj["inputs"][0]
                    want_name = name_arg[1] if name_arg else "input-0"
                    expect(inp.get("name") == want_name, f"name {inp.get('name')!r} != {want_name!r}")
                    dt = KSERVE[arr.dtype.name]
                    expect(inp.get("datatype") == dt, f"datatype {inp.get('datatype')!r} != {dt!r}")
                    expect(inp.get("shape") == list(arr.shape), f"shape {inp.get('shape')} != {list(arr.shape)}")
                    expect("data" in inp, "no data")
                    if dt == "BOOL":
                        flat = np.array(inp["data"], dtype=object).ravel()
                        expect(all(isinstance(v, bool) for v in flat), "BOOL data are not JSON booleans")
                    got = np.array(inp["data"], dtype=KSERVE_BACK[dt]).reshape(inp["shape"])
                    same_array(got, arr, "np.array(data, dtype).reshape(shape)")
                    back = self.decode_text(d, out)
                    same_array(back, arr, "tensorjson decode of its own request")
                label = "--name " + name_arg[1] if name_arg else "default name"
                self.check(f"kserve encode ({label})  {describe(arr)}", enc)
        for name in ("complex64", "complex128"):
            self.encode_refuse_check(f"kserve encode refuses {name}", finite(name, (2, 2), rng),
                                     "--style", "kserve")
        self.encode_refuse_check("kserve encode refuses NaN without --allow-nan",
                                 np.array([1.0, np.nan], dtype="<f4"), "--style", "kserve")

        # decode of Python-written requests / responses
        for name in REAL_DTYPES:
            arr = finite(name, (2, 3), rng)
            dt = KSERVE[name]
            flat = {"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": dt,
                                "data": arr.ravel().tolist()}]}
            nested = {"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": dt, "data": arr.tolist()}]}
            resp = {"model_name": "m", "model_version": "1",
                    "outputs": [{"name": "output-0", "shape": [2, 3], "datatype": dt, "data": arr.ravel().tolist()}]}
            self.decode_check(f"kserve request flat->decode  {dt}", lambda o=flat: json.dumps(o), arr)
            self.decode_check(f"kserve request nested->decode  {dt}", lambda o=nested: json.dumps(o), arr)
            self.decode_check(f"kserve response->decode  {dt}", lambda o=resp: json.dumps(o), arr)
        bf_bits = np.array([0x3F80, 0xC020, 0x3E20, 0x4049, 0x0001, 0x8000], dtype=np.uint32) << 16
        bf = bf_bits.view(np.float32).reshape(2, 3)
        self.decode_check("kserve BF16->decode (float32)", lambda: json.dumps(
            {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "BF16", "data": bf.ravel().tolist()}]}), bf)
        a = finite("int64", (1, 4), rng)
        b = finite("float32", (2, 2), rng)
        two = {"inputs": [{"name": "a", "shape": [1, 4], "datatype": "INT64", "data": a.ravel().tolist()},
                          {"name": "bee", "shape": [2, 2], "datatype": "FP32", "data": b.ravel().tolist()}]}
        self.decode_check("kserve two inputs --name bee->decode", lambda: json.dumps(two), b, "--name", "bee")
        self.decode_check("kserve two inputs --name a->decode", lambda: json.dumps(two), a, "--name", "a")
        self.refuse_check("kserve two inputs without --name: error lists the names",
                          lambda: json.dumps(two), "bee")
        self.refuse_check("kserve binary_data_size (binary extension) is refused", lambda: json.dumps(
            {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32",
                         "parameters": {"binary_data_size": 24}}]}), "binary")

    # ---- TF Serving ------------------------------------------------------------

    def tf_serving_checks(self) -> None:
        rng = self.rng
        arrays = []
        for name in REAL_DTYPES:
            if name == "float16":
                continue
            arrays += variants(finite(name, (2, 3), rng))
        arrays += [finite("int32", (2, 2, 2), rng)]  # not empty: [] cannot carry a shape like (0, 3)
        for arr in arrays:
            def enc(d: Path, arr=arr):
                out = self.encode(d, arr, "--style", "tf-serving")
                obj = strict_json(out, "stdout")
                expect(isinstance(obj, dict) and ("instances" in obj or "inputs" in obj),
                       f"no instances/inputs: {out[:100]!r}")
                val = obj.get("instances", obj.get("inputs"))
                got = np.array(val, dtype=arr.dtype.newbyteorder("=")).reshape(arr.shape)
                same_array(got, arr, "np.array(instances, dtype)")
                back = self.decode_text(d, out, "--dtype", arr.dtype.name)
                same_array(back, arr, f"tensorjson decode --dtype {arr.dtype.name} of its own output")
                back2 = self.decode_text(d, out)
                same_array(back2, np.array(val), "tensorjson decode without --dtype vs numpy's inference")
            self.check(f"tf-serving encode  {describe(arr)}", enc)
        self.encode_refuse_check("tf-serving encode refuses float16", finite("float16", (2, 2), rng),
                                 "--style", "tf-serving")
        self.encode_refuse_check("tf-serving encode refuses complex64", finite("complex64", (2, 2), rng),
                                 "--style", "tf-serving")
        for doc in ({"instances": [[1.0, 2.0], [3.0, 4.0]]}, {"instances": [1, 2, 3]},
                    {"inputs": [[1.5, -2.0], [3.25, 4.0]]}, {"instances": [[True, False]]},
                    {"signature_name": "serving_default", "instances": [[1, 2.5]]}):
            key = "instances" if "instances" in doc else "inputs"
            want = np.array(doc[key])
            self.decode_check(f"tf-serving ->decode {json.dumps(doc)[:60]} ({want.dtype})",
                              lambda doc=doc: json.dumps(doc), want)
        self.decode_check("tf-serving ->decode --dtype float32", lambda: json.dumps({"instances": [1, 2, 3]}),
                          np.array([1, 2, 3], dtype=np.float32), "--dtype", "float32")

    # ---- plain lists -----------------------------------------------------------

    def list_checks(self) -> None:
        rng = self.rng
        arrays = []
        for name in REAL_DTYPES:
            arrays += variants(finite(name, (2, 3), rng))
        arrays += [np.array(-2.5), np.array(7, dtype="<i4"), np.zeros((0,), "<f8"), finite("int8", (2, 1, 3), rng)]
        for arr in arrays:
            def enc(d: Path, arr=arr):
                out = self.encode(d, arr, "--style", "list")
                val = strict_json(out, "stdout")
                # float16/float32 are written as the shortest decimal that reads back to the
                # same value in that type ("0.1", not tolist()'s 0.10000000149011612); the
                # bit-exact check below covers them.
                if arr.dtype.kind != "f" or arr.dtype.itemsize == 8:
                    expect(val == arr.tolist(), f"json.loads(output) != arr.tolist(): {out[:100]!r}")
                got = np.array(val, dtype=arr.dtype.newbyteorder("=")).reshape(arr.shape)
                same_array(got, arr, "np.array(output, dtype)")  # also catches -0.0 written as 0
                if arr.ndim:  # a 0-d array's tolist() is a bare number: not a list document to read back
                    back = self.decode_text(d, out, "--dtype", arr.dtype.name)
                    same_array(back, arr, f"decode --dtype {arr.dtype.name}")
            self.check(f"list encode == arr (tolist, or bits in its dtype)  {describe(arr)}", enc)
        self.encode_refuse_check("list encode refuses NaN without --allow-nan",
                                 np.array([1.0, np.nan, np.inf]), "--style", "list")

        def nan_ok(d: Path):
            arr = np.array([1.0, np.nan, np.inf, -np.inf])
            out = self.encode(d, arr, "--style", "list", "--allow-nan")
            val = lax_json(out, "stdout")
            same_values_nan(np.array(val, dtype=np.float64), arr, "json.loads (NaN tokens)")
        self.check("list encode --allow-nan writes NaN/Infinity tokens", nan_ok)
        def float16_shortest(d: Path):
            bits = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
            arr = bits[np.isfinite(bits)]
            out = self.encode(d, arr, "--style", "list")
            tokens = out.decode().strip()[1:-1].split(",")
            expect(len(tokens) == arr.size, f"{len(tokens)} tokens for {arr.size} values")
            for value, token in zip(arr, tokens):
                # numpy's repr is the shortest decimal that reads back as the same float16
                want = Decimal(str(value))
                expect(Decimal(token) == want and np.float16(float(token)) == value,
                       f"float16 {value!r} written {token}, numpy's repr is {want}")
        self.check("list encode writes every float16 as numpy's shortest repr", float16_shortest)
        for text in ("[[1, 2], [3, 4]]", "[[1.5, 2], [3, 4]]", "[true, false]", "[1, true]",
                     "[18446744073709551615]", "[[[1]], [[2]]]", "[1, -0, 2]", "[-0]", "[1e400, 1]",
                     "[-1e400, -0.0]", "[9223372036854775807, -9223372036854775808]"):
            want = np.array(json.loads(text))
            self.decode_check(f"list ->decode {text} ({want.dtype}, numpy's inference)", lambda t=text: t, want)
        self.refuse_check("list ragged is refused", lambda: "[[1, 2], [3]]")
        # numpy makes these object arrays (json.loads gives exact Python ints), which
        # tensorjson does not carry: refused, never rounded to float64
        for text in ("[123456789012345678901234567890]", "[18446744073709551616]", "[-9223372036854775809]"):
            self.refuse_check(f"list {text} (numpy: object) is refused", lambda t=text: t, "64 bits")
        for text, dtype in (("[-9223372036854775809]", "int64"), ("[18446744073709551616]", "uint64"),
                            ("[1, 2, 300]", "uint8"), ("[-1]", "uint32")):
            self.refuse_check(f"list {text} --dtype {dtype} is refused, as numpy raises OverflowError",
                              lambda t=text: t, "outside the range", "--dtype", dtype)
        # float16 from JSON numbers, rounded once from the double as numpy does (not via float32)
        halves = "[1.0004882812500009, 1.00048828125, 65519.99, -2.9802322387695312e-08, 0.1]"
        self.decode_check(f"list {halves} --dtype float16", lambda: halves,
                          np.array(json.loads(halves), dtype=np.float16), "--dtype", "float16")
        big = "[123456789012345678901234567890, 18446744073709551616]"
        self.decode_check(f"list {big} --dtype float64 (numpy rounds Python ints)", lambda: big,
                          np.array(json.loads(big), dtype=np.float64), "--dtype", "float64")

    # ---- npy-base64 --------------------------------------------------------------

    def npy_base64_checks(self) -> None:
        rng = self.rng
        for arr in [random_bits(n, (2, 3), rng) for n in DTYPES] + [np.array(-1.5, ">f8")]:
            def enc(d: Path, arr=arr):
                out = self.encode(d, arr, "--style", "npy-base64")
                s = strict_json(out, "stdout")
                raw = b64strict(s, "npy-base64 string")
                expect(raw[:6] == b"\x93NUMPY", "decoded bytes are not a .npy file")
                same_array(np.load(io.BytesIO(raw), allow_pickle=False), arr, "np.load(base64 decoded)")
                same_array(self.decode_text(d, out), arr, "tensorjson decode of its own output")
            self.check(f"npy-base64 encode  {describe(arr)}", enc)

    # ---- images ----------------------------------------------------------------

    def image_checks(self) -> None:
        rng = self.rng

        def make_png() -> tuple[bytes, np.ndarray]:
            Image = need(PIL_Image, "Pillow")
            a = rng.integers(0, 256, size=(3, 5, 3), dtype=np.int64).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG")
            return buf.getvalue(), a

        def extract(style: str, obj):
            if style == "data-url":
                expect(isinstance(obj, str), f"not a JSON string: {type(obj).__name__}")
                url = obj
            elif style == "openai":
                expect(isinstance(obj, dict) and obj.get("type") == "image_url", f"type {obj.get('type')!r}")
                url = (obj.get("image_url") or {}).get("url")
                expect(isinstance(url, str), "image_url.url missing")
            elif style == "anthropic":
                expect(isinstance(obj, dict) and obj.get("type") == "image", f"type {obj.get('type')!r}")
                src = obj.get("source") or {}
                expect(src.get("type") == "base64" and src.get("media_type") == "image/png",
                       f"source {dict((k, v) for k, v in src.items() if k != 'data')}")
                return b64strict(src.get("data"), "source.data")
            else:
                part = obj.get("inline_data") or obj.get("inlineData") if isinstance(obj, dict) else None
                expect(isinstance(part, dict), "no inline_data / inlineData")
                mime = part.get("mime_type", part.get("mimeType"))
                expect(mime == "image/png", f"mime type {mime!r}")
                return b64strict(part.get("data"), "inline data")
            prefix = "data:image/png;base64,"
            expect(url.startswith(prefix), f"not a PNG data URL: {url[:40]!r}")
            return b64strict(url[len(prefix):], "data URL payload")

        for style in ("data-url", "openai", "anthropic", "gemini"):
            def enc(d: Path, style=style):
                png, pix = make_png()
                (d / "p.png").write_bytes(png)
                out = self.tool.run("encode", d / "p.png", "--style", style)
                obj = strict_json(out, "stdout")
                expect(extract(style, obj) == png, "base64 payload is not the PNG file's bytes")
                (d / "in.json").write_bytes(out)
                self.tool.run("decode", d / "in.json", "-o", d / "q.png")
                expect(written(d / "q.png") == png, "decoded PNG is not byte-identical to the input")
                self.tool.run("decode", d / "in.json", "-o", d / "q.npy")
                same_array(load_npy(d / "q.npy"), pix, "pixels")
            self.check(f"image encode --style {style} -> base64 of the exact PNG -> decode", enc)

        def raw(d: Path):
            png, _ = make_png()
            (d / "p.png").write_bytes(png)
            out = self.tool.run("encode", d / "p.png", "--style", "data-url", "--raw").decode("ascii", "replace")
            line = out.rstrip("\n")
            expect("\n" not in line and not line.startswith('"'), f"not a bare line: {out[:40]!r}")
            prefix = "data:image/png;base64,"
            expect(line.startswith(prefix), f"not a data URL: {line[:40]!r}")
            expect(b64strict(line[len(prefix):], "payload") == png, "payload is not the PNG bytes")
        self.check("image encode --style data-url --raw prints a bare data URL", raw)

        def parts(png):
            data = base64.b64encode(png).decode()
            url = "data:image/png;base64," + data
            return {
                "data-url": url,
                "openai": {"type": "image_url", "image_url": {"url": url, "detail": "auto"}},
                "anthropic": {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                "gemini inline_data": {"inline_data": {"mime_type": "image/png", "data": data}},
                "gemini inlineData": {"inlineData": {"mimeType": "image/png", "data": data}},
                "tf-serving b64": {"instances": [{"b64": data}]},
                "anthropic one level down": {"request_id": "x", "image": {
                    "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}},
            }
        for label in ("data-url", "openai", "anthropic", "gemini inline_data", "gemini inlineData",
                      "tf-serving b64", "anthropic one level down"):
            def dec(d: Path, label=label):
                png, _ = make_png()
                (d / "in.json").write_text(json.dumps(parts(png)[label]))
                self.tool.run("decode", d / "in.json", "-o", d / "q.png")
                expect(written(d / "q.png") == png, "decoded PNG is not byte-identical")
            self.check(f"image {label} ->decode -o .png (same bytes)", dec)

    # ---- hand-rolled -------------------------------------------------------------

    def handrolled_checks(self) -> None:
        """What services that hand-roll their payloads do with tensorjson's output, and the
        reverse: `numpy.frombuffer(base64.b64decode(d["tensor"]), dtype).reshape(d["shape"])`
        and `PIL.Image.open(BytesIO(base64.b64decode(d["image"])))`."""
        rng = self.rng
        arrays = []
        for name in DTYPES:
            arrays += variants(random_bits(name, (2, 3, 4), rng))
        arrays += self.extras()
        for arr in arrays:
            def enc(d: Path, arr=arr):
                out = self.encode(d, arr, "--style", "hand-rolled")
                obj = strict_json(out, "stdout")
                expect(list(obj) == ["tensor", "shape", "dtype"], f"keys {list(obj)}, want tensor, shape, dtype")
                expect(obj["dtype"] in TORCH, f"dtype {obj['dtype']!r} is not a torch name")
                got = np.frombuffer(base64.b64decode(obj["tensor"]), TORCH[obj["dtype"]]).reshape(obj["shape"])
                same_array(got, arr, "numpy.frombuffer(b64decode(tensor), dtype).reshape(shape)")
            self.check(f"hand-rolled encode->frombuffer  {describe(arr)}", enc)

            def service_text(arr=arr):
                # what such a service sends: its own (little-endian, C-order) bytes
                c = canonical(arr)
                return json.dumps({"tensor": base64.b64encode(c.tobytes()).decode(),
                                   "shape": list(c.shape), "dtype": TORCH_NAME[c.dtype.name]})
            self.decode_check(f"hand-rolled json.dumps->decode  {describe(arr)}", service_text, arr)

        def make_png(mode: str) -> tuple[bytes, np.ndarray]:
            Image = need(PIL_Image, "Pillow")
            shape, dtype = {"L": ((3, 5), np.uint8), "LA": ((3, 5, 2), np.uint8), "RGB": ((3, 5, 3), np.uint8),
                            "RGBA": ((3, 5, 4), np.uint8), "I;16": ((3, 5), np.uint16)}[mode]
            a = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=np.int64, endpoint=True).astype(dtype)
            img = Image.fromarray(a)
            expect(img.mode == mode, f"Pillow made {img.mode}, not {mode}")
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            return buf.getvalue(), np.asarray(Image.open(io.BytesIO(buf.getvalue())))

        for mode in ("L", "LA", "RGB", "RGBA", "I;16"):
            def img_enc(d: Path, mode=mode):
                Image = need(PIL_Image, "Pillow")
                png, pix = make_png(mode)
                (d / "p.png").write_bytes(png)
                out = self.tool.run("encode", d / "p.png", "--style", "hand-rolled")
                obj = strict_json(out, "stdout")
                expect(list(obj) == ["image", "format"], f"keys {list(obj)}, want image, format")
                expect(obj["format"] == "PNG", f"format {obj['format']!r}")
                raw = b64strict(obj["image"], "image")
                expect(raw == png, "base64 payload is not the PNG file's bytes")
                opened = Image.open(io.BytesIO(base64.b64decode(obj["image"])))
                source = Image.open(io.BytesIO(png))
                expect(opened.mode == source.mode and opened.size == source.size,
                       f"{opened.mode} {opened.size} != {source.mode} {source.size}")
                same_array(np.asarray(opened), pix, "Image.open(BytesIO(b64decode(image)))")
            self.check(f"hand-rolled image encode->Image.open  {mode}", img_enc)

            def img_dec(d: Path, mode=mode):
                png, pix = make_png(mode)
                text = json.dumps({"image": base64.b64encode(png).decode(), "format": "PNG"})
                (d / "in.json").write_text(text)
                self.tool.run("decode", d / "in.json", "-o", d / "q.png")
                expect(written(d / "q.png") == png, "decoded PNG is not byte-identical")
                self.tool.run("decode", d / "in.json", "-o", d / "q.npy")
                same_array(load_npy(d / "q.npy"), pix, "pixels")
            self.check(f"hand-rolled image json.dumps->decode  {mode}", img_dec)

    # ---- committed fixtures -------------------------------------------------------

    def fixture_checks(self, root: Path) -> None:
        idx_path = root / "dialects" / "INDEX.json"
        try:
            index = json.loads(idx_path.read_text())
            assert isinstance(index, list)
        except Exception as e:  # noqa: BLE001 - reported, never fatal
            self.failed += 1
            print(f"FAIL fixture {idx_path} unreadable (run fixtures/generate_dialects.py): "
                  f"{type(e).__name__}: {e}", flush=True)
            return
        for case in index:
            f = root / "dialects" / case["file"]
            args = case.get("args") or []
            label = f"fixture dialects/{case['file']}" + (f" {' '.join(args)}" if args else "")
            if case.get("error"):
                def bad(d: Path, f=f, case=case, args=args):
                    self.tool.refuse("decode", f, "-o", d / "y.npy", *args, phrase=case["error"], out=d / "y.npy")
                self.check(f"{label} (refused: {case['error']})", bad)
            elif str(case.get("expected", "")).endswith(".png"):
                def img(d: Path, f=f, case=case, args=args):
                    self.tool.run("decode", f, "-o", d / "y.png", *args)
                    expect(written(d / "y.png") == (root / "dialects" / case["expected"]).read_bytes(),
                           "PNG bytes differ from expected")
                self.check(label, img)
            else:
                def ok(d: Path, f=f, case=case, args=args):
                    self.tool.run("decode", f, "-o", d / "y.npy", *args)
                    same_array(load_npy(d / "y.npy"), np.load(root / "dialects" / case["expected"]), "y.npy")
                self.check(label, ok)


def main(argv: list[str]) -> int:
    def ver(mod, name):
        return f"{name} {'MISSING' if isinstance(mod, Exception) else getattr(mod, '__version__', '?')}"

    def banner() -> str:
        return f"NumPy {np.__version__}, " + ", ".join(
            [ver(json_numpy, "json-numpy"), ver(json_tricks, "json-tricks"),
             ver(jsonpickle, "jsonpickle"), ver(jdata, "jdata")])

    def run(runner: Runner) -> None:
        for part in (runner.json_numpy_checks, runner.json_tricks_checks, runner.jsonpickle_checks,
                     runner.jdata_checks, runner.kserve_checks, runner.tf_serving_checks,
                     runner.list_checks, runner.npy_base64_checks, runner.image_checks,
                     runner.handrolled_checks):
            try:
                part()
            except Exception as e:  # a bug while building checks: report it, go on
                runner.failed += 1
                print(f"FAIL {part.__name__}: {type(e).__name__}: {e}", flush=True)

    return harness.main(
        argv, name="live_check_dialects", description=__doc__.split("\n\n")[0],
        fixtures_help="also decode fixtures/dialects/ per its INDEX.json", runner_class=Runner,
        banner=banner, run=run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
