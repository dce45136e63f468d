#!/usr/bin/env python3
"""Live interop check: real NumPy / Pillow against a built tensorjson binary.

    PY=$(bash scripts/python-venv.sh)
    "$PY" scripts/live_check.py target/release/tensorjson

Python writes .npy / PNG / JSON files with NumPy, Pillow and json, runs the
binary on them through its CLI, and reads the results back with the same
libraries:

  encode  .npy -> envelope   every dtype x byte order x memory order, 0-d, empty
  decode  envelope -> .npy   (Python-written envelopes), also via --compress zlib
  zlib    --compress zlib --threads 1|2|3 around the 256 KiB blocks, read by zlib.decompress
  pipe    stdin/stdout forms (`encode -`, `decode - --to npy|png`)
  image   PNG -> image envelope -> pixels; arrays -> PNG read back by Pillow;
          `decode --layout chw` pixels == np.asarray(Image.open(f)).transpose(2, 0, 1)
  cast    `decode --cast` for every dtype pair == numpy's astype, bit for bit, and the
          values it must refuse refused with their index

One line per check, then a summary line `N passed, M failed`; exit status 1 if
any check failed (or the binary is missing), 0 otherwise.

CLI contract exercised:
    tensorjson encode [INPUT] [-o OUTPUT] [--compress zlib [--threads N]] [--pretty]
    tensorjson decode [INPUT] [-o OUTPUT] [--to npy|png] [--layout hwc|chw] [--cast DTYPE]
"""

from __future__ import annotations

import base64
import io
import json
import sys
import warnings
import zlib
from pathlib import Path


try:
    import numpy as np
    import PIL
    from PIL import Image
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"live_check: cannot import numpy/Pillow ({exc}); run it with the venv python:\n"
          f"    \"$(bash scripts/python-venv.sh)\" scripts/live_check.py BINARY", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

import check_harness as harness  # noqa: E402 (needs numpy, checked above)
from check_harness import (CheckFailed, describe, expect, le_bytes, same_array,  # noqa: E402
                           written)

try:
    import png as pypng  # optional: only for 16-bit RGB/RGBA/LA read-back
except ImportError:  # pragma: no cover
    pypng = None

DTYPES = [
    "bool",
    "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
    "complex64", "complex128",
]
ENVELOPE_KEYS = ["kind", "dtype", "shape", "data"]
H, W = 3, 5  # non-square images


# --------------------------------------------------------------------------
# arrays and comparisons
# --------------------------------------------------------------------------

def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def envelope_for(arr: np.ndarray) -> dict:
    return {"kind": "tensor", "dtype": arr.dtype.name,
            "shape": [int(d) for d in arr.shape], "data": base64.b64encode(le_bytes(arr)).decode()}


RAW_NAN = {  # bit patterns a lossy float path would canonicalise
    "float16": [0x7C01, 0xFE01, 0x8000],
    "float32": [0x7F800001, 0xFFC00123, 0x80000000],
    "float64": [0x7FF0000000000001, 0xFFF8000000000123, 0x8000000000000000],
}
UINT_FOR = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def make_array(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(name).newbyteorder("<")
    n = int(np.prod(shape))
    if name == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    # random bit patterns: every byte is significant, floats get random NaN payloads
    arr = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt).copy()
    if name.startswith(("int", "uint")) and n >= 2:
        info = np.iinfo(name)
        arr[0], arr[1] = info.min, info.max
    part = {"complex64": "float32", "complex128": "float64"}.get(name, name)
    if part in RAW_NAN:
        fv = arr.view(part)  # for complex: interleaved re/im
        specials = [0.0, np.inf, -np.inf, np.nan, 1.0, -2.5]
        k = min(len(specials), fv.size)
        fv[:k] = specials[:k]
        u = fv.view(UINT_FOR[np.dtype(part).itemsize])
        for i, bits in enumerate(RAW_NAN[part]):
            if k + i < u.size:
                u[k + i] = bits
    return arr.reshape(shape)


def cast_source(src: str, tgt: str, rng: np.random.Generator) -> np.ndarray:
    """Values of dtype `src` for a cast to `tgt`: the edges of `tgt` (its range, halfway and
    overflowing floats, fractions), NaN and infinities, complex values with and without an
    imaginary part, and random bit patterns, shuffled, as an (N, 4) array."""
    s, t = np.dtype(src), np.dtype(tgt)
    if s.kind == "b":
        return rng.integers(0, 2, size=(6, 4)).astype(bool)
    cands: list = [0, 1, -1, 0.5, -0.5, -0.99, 2.7, -3.5, 255.9, 1e30, -1e30, -0.0,
                   65504.0, 65519.99, 65520.0, 1 + 2.0 ** -11 + 2.0 ** -40, 2.0 ** -24, 2.0 ** -25,
                   3 * 2.0 ** -26, 1e-40, 3.4028235e38, 3.5e38, 1e300, 2 ** 53 + 1, 2 ** 63 - 1,
                   2 ** 64 - 1, -2 ** 63, float("nan"), float("inf"), float("-inf")]
    if t.kind in "iu":
        info = np.iinfo(t)
        cands += [int(info.min), int(info.max), int(info.min) - 1, int(info.max) + 1,
                  int(info.min) - 0.5, int(info.max) + 0.5, int(info.max) + 0.9999]
        cands += [int(v) for v in rng.integers(info.min, info.max, size=8, dtype=t, endpoint=True)]
    if s.kind == "c":
        cands += [1 + 2j, complex(0, float("nan")), complex(3, -0.0), complex(float("nan"), 0), 2.5 - 1e-30j]
    vals = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for v in cands:
            if s.kind in "iu":
                # an integer source holds only the integers in its own range
                if isinstance(v, int) and np.iinfo(s).min <= v <= np.iinfo(s).max:
                    vals.append(np.array(v).astype(s))
            else:
                vals.append(np.array(v).astype(s))
    arr = np.concatenate([np.array(vals, dtype=s).ravel(), make_array(src, (24,), rng).ravel()])
    arr = arr[rng.permutation(arr.size)]
    pad = (-arr.size) % 4
    return np.concatenate([arr, np.zeros(pad, dtype=s)]).reshape(-1, 4)


def cast_reason(value, tgt: str) -> str | None:
    """Why tensorjson must refuse to cast `value` to `tgt` (the words of its message), or
    None: numpy would wrap an integer, make garbage of NaN, or drop an imaginary part."""
    t = np.dtype(tgt)
    if t.kind in "bc":
        return None
    if np.iscomplexobj(value):
        if value.imag != 0 or value.imag != value.imag:
            return "imaginary part"
        value = value.real
    if t.kind == "f":
        return None
    if isinstance(value, (np.bool_, bool)):
        return None
    if np.issubdtype(type(value), np.integer):
        n = int(value)
    else:
        if not np.isfinite(value):
            return "no integer type"
        n = int(np.trunc(float(value)))  # exact: every float is a Python int when truncated
    info = np.iinfo(t)
    return None if info.min <= n <= info.max else "outside the range"


def cast_refusals(arr: np.ndarray, tgt: str) -> list[bool]:
    return [cast_reason(v, tgt) is not None for v in arr.ravel()]


def parse_pairs(text: str | bytes, what: str = "output"):
    """Parse a JSON object keeping its top-level key order: (dict, [keys])."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckFailed(f"{what}: not UTF-8")
    keys: list[str] = []

    def hook(pairs):  # called innermost first, so the last call is the top level
        keys[:] = [k for k, _ in pairs]
        return dict(pairs)

    try:
        obj = json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{what}: not JSON ({e}): {text[:80]!r}")
    expect(isinstance(obj, dict), f"{what}: top level is {type(obj).__name__}, not an object")
    return obj, keys


def check_tensor_envelope(text: bytes, arr: np.ndarray, what: str, exact: bool = True) -> dict:
    obj, keys = parse_pairs(text, what)
    s = text.decode("utf-8")
    expect(keys == ENVELOPE_KEYS, f"{what}: keys {keys} != {ENVELOPE_KEYS}")
    expect(obj["kind"] == "tensor", f"{what}: kind {obj['kind']!r}")
    expect(obj["dtype"] == arr.dtype.name, f"{what}: dtype {obj['dtype']!r} != {arr.dtype.name!r}")
    expect(obj["shape"] == list(arr.shape), f"{what}: shape {obj['shape']} != {list(arr.shape)}")
    expect(isinstance(obj["data"], str), f"{what}: data is not a string")
    try:
        raw = base64.b64decode(obj["data"], validate=True)
    except ValueError as e:
        raise CheckFailed(f"{what}: data is not strict padded base64 ({e})")
    got = np.frombuffer(raw, dtype=np.dtype(obj["dtype"]).newbyteorder("<"))
    expect(got.size == arr.size, f"{what}: {got.size} elements decoded, want {arr.size}")
    got = got.reshape(obj["shape"])
    same_array(got, arr, what)
    if exact:
        want = compact(envelope_for(arr))
        expect(s.rstrip("\n") == want and s.count("\n") <= 1,
               f"{what}: not the canonical compact form: {s[:100]!r}")
    return obj


def load_npy_bytes(data: bytes, what: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise CheckFailed(f"{what}: np.load failed: {type(e).__name__}: {e}")


def load_npy(path: Path, what: str) -> np.ndarray:
    return load_npy_bytes(written(path), what)


def open_png(path: Path | bytes, what: str) -> Image.Image:
    data = path if isinstance(path, bytes) else written(path)
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", f"{what}: output is not a PNG")
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------

class Runner(harness.Runner):
    # ---- (a)-(c): tensors -------------------------------------------------

    def tensor_checks(self, label: str, arr: np.ndarray) -> None:
        t = self.tool

        def encode_file(d: Path):
            np.save(d / "x.npy", arr, allow_pickle=False)
            t.run("encode", d / "x.npy", "-o", d / "x.json")
            check_tensor_envelope(written(d / "x.json"), arr, "x.json")

        def decode_file(d: Path):
            with open(d / "x.json", "w") as f:
                json.dump(envelope_for(arr), f)
            t.run("decode", d / "x.json", "-o", d / "y.npy")
            same_array(load_npy(d / "y.npy", "y.npy"), arr, "y.npy")

        def zlib_roundtrip(d: Path):
            np.save(d / "x.npy", arr, allow_pickle=False)
            t.run("encode", d / "x.npy", "--compress", "zlib", "-o", d / "z.json")
            obj, _ = parse_pairs(written(d / "z.json"), "z.json")
            expect(obj.get("kind") == "tensor", f"z.json: kind {obj.get('kind')!r}")
            expect(obj.get("compression") == "zlib", f"z.json: compression {obj.get('compression')!r}")
            expect(obj.get("dtype") == arr.dtype.name and obj.get("shape") == list(arr.shape),
                   f"z.json: dtype/shape {obj.get('dtype')!r} {obj.get('shape')!r}")
            raw = zlib.decompress(base64.b64decode(obj["data"], validate=True))
            expect(raw == le_bytes(arr), "z.json: zlib-decompressed data != LE C-order bytes")
            t.run("decode", d / "z.json", "-o", d / "z.npy")
            same_array(load_npy(d / "z.npy", "z.npy"), arr, "z.npy")

        def pipe(d: Path):
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            out = t.run("encode", "-", stdin=buf.getvalue())
            check_tensor_envelope(out, arr, "stdout of encode -")
            npy = t.run("decode", "-", "--to", "npy", stdin=compact(envelope_for(arr)).encode())
            same_array(load_npy_bytes(npy, "stdout of decode -"), arr, "stdout of decode -")

        self.check(f"encode  {label}", encode_file)
        self.check(f"decode  {label}", decode_file)
        self.check(f"zlib    {label}", zlib_roundtrip)
        self.check(f"pipe    {label}", pipe)

    def all_tensors(self) -> None:
        rng = np.random.default_rng(20240611)
        for name in DTYPES:
            le = make_array(name, (2, 3, 4), rng)
            variants = [("le", le)]
            if le.dtype.itemsize > 1:
                variants.append(("be", le.astype(le.dtype.newbyteorder(">"))))
            for bo, a in variants:
                assert le_bytes(a) == le_bytes(le)
                self.tensor_checks(describe(a), a)
                f = np.asfortranarray(a)
                assert f.flags.f_contiguous and not f.flags.c_contiguous
                self.tensor_checks(describe(f), f)
        extras = [
            np.array(-2.5, dtype="<f8"),                      # 0-d
            np.array(-12345, dtype=">i2"),                    # 0-d big endian
            np.zeros((0,), dtype="<f4"),                      # empty
            np.zeros((2, 0, 3), dtype=">u4"),                 # empty rank 3
            make_array("float32", (2, 1, 3, 1, 2), rng),      # rank 5
            make_array("int64", (1,), rng),                   # one element
        ]
        for a in extras:
            self.tensor_checks(describe(a), a)

        arr = make_array("float64", (3, 2), rng)

        def pretty(d: Path):
            np.save(d / "x.npy", arr, allow_pickle=False)
            out = self.tool.run("encode", d / "x.npy", "--pretty")
            check_tensor_envelope(out, arr, "--pretty", exact=False)
            expect(out.count(b"\n") > 1, "--pretty output is a single line")

        self.check("encode  --pretty float64 (3, 2)", pretty)

        def header_bytes(d: Path):
            # numpy.save pads a header by 1 to 64 bytes: one already a multiple of 64 gets 64 more
            for shape in [(1, 1, 100, 1000) + (1,) * 9, (3,), (), (0, 5), (2,) * 20, (1,) * 64, (2**40, 0)]:
                a = np.zeros(shape, "u1")
                buf = io.BytesIO()
                np.save(buf, a, allow_pickle=False)
                json_text = self.tool.run("encode", "-", stdin=buf.getvalue())
                npy = self.tool.run("decode", "-", "--to", "npy", stdin=json_text)
                expect(npy == buf.getvalue(), f"shape {shape}: {len(npy)} bytes, numpy.save writes "
                       f"{len(buf.getvalue())}: {npy[:128]!r}")

        self.check("decode  .npy output byte for byte as numpy.save, header padding edges", header_bytes)

    def zlib_blocks(self) -> None:
        """--compress zlib on several threads is one zlib stream Python's zlib reads whole:
        sizes around the 256 KiB blocks, thread counts 1, 2, 3."""
        block = 256 << 10
        rng = np.random.default_rng(11)
        # Compressible (a slow wave) but not trivially so (noise in the low bits).
        wave = ((np.arange(4 * block) // 4096) % 200).astype(np.float32)
        wave += rng.integers(0, 4, wave.size).astype(np.float32) / 4
        source = wave.view(np.uint8)
        for size in [block - 1, block, block + 1, 3 * block + 5]:
            arr = source[:size].copy()
            for threads in [1, 2, 3]:
                def run(d: Path, arr=arr, threads=threads):
                    np.save(d / "x.npy", arr, allow_pickle=False)
                    self.tool.run("encode", d / "x.npy", "--compress", "zlib",
                                  "--threads", str(threads), "-o", d / "z.json")
                    obj, _ = parse_pairs(written(d / "z.json"), "z.json")
                    raw = zlib.decompress(base64.b64decode(obj["data"], validate=True))
                    expect(raw == arr.tobytes(), f"z.json: {len(raw)} bytes inflated, "
                           f"not the {arr.nbytes} written")
                    self.tool.run("decode", d / "z.json", "-o", d / "z.npy")
                    same_array(load_npy(d / "z.npy", "z.npy"), arr, "z.npy")
                self.check(f"zlib    {size} bytes, --threads {threads}", run)

    # ---- (d): images ------------------------------------------------------

    def png_to_envelope(self) -> None:
        rng = np.random.default_rng(7)
        t = self.tool

        def pix(ch, dtype=np.uint8):
            hi = 256 if dtype == np.uint8 else 65536
            shape = (H, W) if ch == 0 else (H, W, ch)
            a = rng.integers(0, hi, size=shape, dtype=np.int64).astype(dtype)
            a.flat[0], a.flat[-1] = 0, hi - 1
            return a

        def palette_image() -> Image.Image:
            p = Image.new("P", (W, H))
            p.putpalette([int(v) for v in rng.integers(0, 256, size=12 * 3)])
            p.putdata([int(v) for v in rng.integers(0, 12, size=W * H)])
            return p

        cases = [
            ("L", lambda: Image.fromarray(pix(0)), {}),
            ("LA", lambda: Image.fromarray(pix(2)), {}),
            ("RGB", lambda: Image.fromarray(pix(3)), {}),
            ("RGBA", lambda: Image.fromarray(pix(4)), {}),
            ("I;16", lambda: Image.fromarray(pix(0, np.uint16)), {}),
            ("P", lambda: palette_image(), {}),
            ("P+tRNS", lambda: palette_image(), {"transparency": bytes([0, 90, 255, 30])}),
        ]
        for mode, make, save_kw in cases:
            def run(d: Path, mode=mode, make=make, save_kw=save_kw):
                make().save(d / "p.png", **save_kw)
                png_bytes = (d / "p.png").read_bytes()
                src = Image.open(io.BytesIO(png_bytes))
                src.load()
                if mode.startswith("P"):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        want = np.asarray(src.convert("RGBA" if "transparency" in src.info else "RGB"))
                else:
                    want = np.asarray(src)
                t.run("encode", d / "p.png", "-o", d / "p.json")
                obj, _ = parse_pairs(written(d / "p.json"), "p.json")
                expect(obj.get("kind") == "image", f"p.json: kind {obj.get('kind')!r}")
                expect(obj.get("format") == "png", f"p.json: format {obj.get('format')!r}")
                expect(obj.get("width") == W and obj.get("height") == H,
                       f"p.json: width/height {obj.get('width')}x{obj.get('height')} != {W}x{H}")
                try:
                    raw = base64.b64decode(obj.get("data", ""), validate=True)
                except ValueError as e:
                    raise CheckFailed(f"p.json: data is not strict base64 ({e})")
                expect(raw == png_bytes, "p.json: data is not the PNG file's bytes")
                t.run("decode", d / "p.json", "-o", d / "q.npy")
                same_array(load_npy(d / "q.npy", "q.npy"), want, "q.npy")
            self.check(f"image   PNG mode {mode} -> envelope -> npy", run)

        if pypng is not None:
            self.low_bit_gray_with_trns()

        def stdin_png(d: Path):
            a = pix(3)
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG")
            out = t.run("encode", stdin=buf.getvalue())
            obj, _ = parse_pairs(out, "stdout")
            expect(obj.get("kind") == "image", f"kind {obj.get('kind')!r}")
            expect(base64.b64decode(obj["data"], validate=True) == buf.getvalue(),
                   "data is not the PNG bytes")
            npy = t.run("decode", "--to", "npy", stdin=out)
            same_array(load_npy_bytes(npy, "stdout"), a, "stdout npy")
        self.check("image   PNG on stdin -> envelope -> npy on stdout", stdin_png)

    def low_bit_gray_with_trns(self) -> None:
        """Gray of 1, 2 or 4 bits with a tRNS chunk: Pillow gives (H, W) without alpha."""
        rng = np.random.default_rng(13)
        t = self.tool
        for depth in (1, 2, 4):
            for interlace in (False, True):
                def run(d: Path, depth=depth, interlace=interlace):
                    rows = rng.integers(0, 1 << depth, size=(H, W)).tolist()
                    with open(d / "p.png", "wb") as f:
                        pypng.Writer(W, H, greyscale=True, bitdepth=depth, transparent=1,
                                     interlace=interlace).write(f, rows)
                    src = Image.open(io.BytesIO((d / "p.png").read_bytes()))
                    src.load()
                    expect("transparency" in src.info, "p.png: Pillow sees no tRNS")
                    # 1-bit gray is uint8 0/255 where Pillow gives bool (README, PNG).
                    want = np.asarray(src.convert("L") if src.mode == "1" else src)
                    t.run("encode", d / "p.png", "-o", d / "p.json")
                    obj, _ = parse_pairs(written(d / "p.json"), "p.json")
                    expect(obj.get("color") == "l8", f"p.json: color {obj.get('color')!r} != 'l8'")
                    t.run("decode", d / "p.json", "-o", d / "q.npy")
                    same_array(load_npy(d / "q.npy", "q.npy"), want, "q.npy")
                kind = "interlaced " if interlace else ""
                self.check(f"image   PNG {kind}{depth}-bit gray + tRNS -> envelope -> npy", run)

    def array_to_png(self) -> None:
        rng = np.random.default_rng(11)
        t = self.tool

        def arr(shape, dtype=np.uint8):
            hi = 256 if dtype == np.uint8 else 65536
            a = rng.integers(0, hi, size=shape, dtype=np.int64).astype(dtype)
            a.flat[0], a.flat[-1] = 0, hi - 1
            return a

        cases = [
            (arr((H, W)), "L"),
            (arr((H, W, 1)), "L"),
            (arr((H, W, 2)), "LA"),
            (arr((H, W, 3)), "RGB"),
            (arr((H, W, 4)), "RGBA"),
            (arr((H, W), np.uint16), "I;16"),
        ]
        for a, mode in cases:
            def run(d: Path, a=a, mode=mode):
                with open(d / "a.json", "w") as f:
                    json.dump(envelope_for(a), f)
                t.run("decode", d / "a.json", "-o", d / "a.png")
                im = open_png(d / "a.png", "a.png")
                expect(im.mode == mode, f"a.png: Pillow mode {im.mode} != {mode}")
                expect(im.size == (W, H), f"a.png: size {im.size} != {(W, H)}")
                want = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a
                same_array(np.asarray(im), want, "a.png pixels")
            self.check(f"topng   {a.dtype.name} {a.shape} -> PNG ({mode})", run)

        if pypng is not None:
            for ch in (2, 3, 4):
                a = arr((H, W, ch), np.uint16)

                def run16(d: Path, a=a, ch=ch):
                    with open(d / "a.json", "w") as f:
                        json.dump(envelope_for(a), f)
                    t.run("decode", d / "a.json", "-o", d / "a.png")
                    data = written(d / "a.png")
                    expect(data[:8] == b"\x89PNG\r\n\x1a\n", "a.png: not a PNG")
                    expect(data[24] == 16, f"a.png: IHDR bit depth {data[24]} != 16")
                    w, h, rows, info = pypng.Reader(bytes=data).asDirect()
                    got = np.array([list(r) for r in rows], dtype=np.uint16).reshape(h, w, info["planes"])
                    same_array(got, a, "a.png pixels (pypng)")
                self.check(f"topng   uint16 {a.shape} -> 16-bit PNG", run16)

        chw = arr((3, H, W))

        def layout_chw(d: Path):
            with open(d / "a.json", "w") as f:
                json.dump(envelope_for(chw), f)
            t.run("decode", d / "a.json", "--layout", "chw", "-o", d / "a.png")
            im = open_png(d / "a.png", "a.png")
            expect(im.mode == "RGB" and im.size == (W, H), f"a.png: {im.mode} {im.size}")
            same_array(np.asarray(im), np.ascontiguousarray(chw.transpose(1, 2, 0)), "a.png pixels")
        self.check(f"topng   uint8 {chw.shape} --layout chw -> PNG (RGB)", layout_chw)

        rgba = arr((H, W, 4))

        def stdout_png(d: Path):
            out = t.run("decode", "-", "--to", "png", stdin=compact(envelope_for(rgba)).encode())
            im = open_png(out, "stdout")
            expect(im.mode == "RGBA", f"stdout PNG mode {im.mode}")
            same_array(np.asarray(im), rgba, "stdout PNG pixels")
        self.check("topng   decode - --to png (stdout)", stdout_png)

    # ---- decode --cast: numpy's astype, with refusals --------------------------

    def cast_checks(self) -> None:
        """Every (source, target) dtype pair: the values tensorjson accepts come out as
        `numpy.ndarray.astype(target)` gives them, bit for bit, and the first value it must
        refuse (out of range, NaN/inf to an integer, a non-zero imaginary part to a real
        type) is refused with its flat index, exit 1 and no output."""
        rng = np.random.default_rng(20240613)
        for src in DTYPES:
            for tgt in DTYPES:
                arr = cast_source(src, tgt, rng)
                bad = cast_refusals(arr, tgt)
                ok = arr.ravel()[[not b for b in bad]]
                ok = ok[: ok.size // 4 * 4].reshape(-1, 4)

                def values(d: Path, ok=ok, tgt=tgt):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        want = ok.astype(tgt)
                    (d / "a.json").write_text(compact(envelope_for(ok)))
                    self.tool.run("decode", d / "a.json", "--cast", tgt, "-o", d / "b.npy")
                    same_array(load_npy(d / "b.npy", "b.npy"), want, f"astype({tgt})")
                self.check(f"cast    {src} {ok.shape} -> {tgt} == numpy astype", values)
                if not any(bad):
                    continue
                first = bad.index(True)
                value = arr.ravel()[first]
                reason = cast_reason(value, tgt)

                def refused(d: Path, arr=arr, tgt=tgt, first=first, reason=reason):
                    (d / "a.json").write_text(compact(envelope_for(arr)))
                    out = d / "b.npy"
                    err = self.tool.refuse("decode", d / "a.json", "--cast", tgt, "-o", out, out=out,
                                           phrase=f"cannot cast to {tgt}: element {first} is ")
                    expect(reason in err, f"message lacks {reason!r}: {err.strip()[:200]!r}")
                self.check(f"cast    {src} {arr.shape} -> {tgt} refuses element {first} ({reason})", refused)

        def mask(d: Path):
            m = rng.integers(0, 256, size=(H, W), dtype=np.int64)
            (d / "m.json").write_text(compact(envelope_for(m)))
            self.tool.run("decode", d / "m.json", "--cast", "uint8", "-o", d / "m.png")
            im = open_png(d / "m.png", "m.png")
            expect(im.mode == "L", f"m.png: mode {im.mode}")
            same_array(np.asarray(im), m.astype(np.uint8), "m.png pixels")
        self.check("cast    int64 mask --cast uint8 -o mask.png (one step)", mask)

        for layout in ("hwc", "chw"):
            def image(d: Path, layout=layout):
                a = rng.integers(0, 256, size=(H, W, 3), dtype=np.int64).astype(np.uint8)
                Image.fromarray(a).save(d / "p.png")
                env = self.tool.run("encode", d / "p.png")
                self.tool.run("decode", "-", "--cast", "float32", "--layout", layout, "-o", d / "q.npy", stdin=env)
                want = np.asarray(Image.open(d / "p.png")).astype(np.float32)
                if layout == "chw":
                    want = want.transpose(2, 0, 1)
                same_array(load_npy(d / "q.npy", "q.npy"), want, "pixels astype(float32)")
            self.check(f"cast    RGB image --cast float32 --layout {layout} -> .npy", image)

    # ---- --layout chw: image -> .npy ------------------------------------------

    def image_chw(self) -> None:
        rng = np.random.default_rng(12)
        for mode, shape, dtype in (("L", (H, W), np.uint8), ("LA", (H, W, 2), np.uint8),
                                   ("RGB", (H, W, 3), np.uint8), ("RGBA", (H, W, 4), np.uint8),
                                   ("I;16", (H, W), np.uint16)):
            def run(d: Path, mode=mode, shape=shape, dtype=dtype):
                a = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=np.int64, endpoint=True).astype(dtype)
                img = Image.fromarray(a)
                expect(img.mode == mode, f"Pillow made {img.mode}, not {mode}")
                img.save(d / "p.png")
                env = self.tool.run("encode", d / "p.png")
                self.tool.run("decode", "-", "--layout", "chw", "-o", d / "q.npy", stdin=env)
                pixels = np.asarray(Image.open(d / "p.png"))
                # numpy users transpose(2, 0, 1); gray (H, W) gets its channel axis: (1, H, W)
                want = pixels.transpose(2, 0, 1) if pixels.ndim == 3 else pixels[np.newaxis]
                got = load_npy(d / "q.npy", "q.npy")
                same_array(got, want, "np.asarray(Image.open(f)).transpose(2, 0, 1)")
                # and back: (C, H, W) --layout chw gives the same image
                (d / "q.json").write_bytes(self.tool.run("encode", d / "q.npy"))
                self.tool.run("decode", d / "q.json", "--layout", "chw", "-o", d / "r.png")
                back = open_png(d / "r.png", "r.png")
                expect(back.mode == mode, f"r.png: mode {back.mode} != {mode}")
                same_array(np.asarray(back), pixels, "r.png pixels")
            self.check(f"image   PNG {mode} -> decode --layout chw -> (C, H, W) .npy -> PNG", run)

    # ---- optional: committed fixtures ----------------------------------------

    def fixture_checks(self, root: Path) -> None:
        t = self.tool
        for p in sorted((root / "npy").glob("*.npy")):
            if p.name.endswith((".canonical.npy", ".expected.npy")):
                continue
            stem = p.name[:-4]

            def run(d: Path, p=p, stem=stem):
                out = t.run("encode", p)
                want = (p.parent / f"{stem}.expected.json").read_bytes()
                expect(out == want, f"stdout differs from {stem}.expected.json: {out[:80]!r}")
                t.run("decode", "-", "-o", d / "y.npy", stdin=out)
                same_array(load_npy(d / "y.npy", "y.npy"),
                           np.load(p.parent / f"{stem}.canonical.npy"), "y.npy vs canonical")
            self.check(f"fixture npy/{p.name}", run)
        for p in sorted((root / "png").glob("*.png")):
            def runp(d: Path, p=p):
                env = t.run("encode", p)
                t.run("decode", "-", "-o", d / "q.npy", stdin=env)
                want = np.load(p.with_name(p.stem + ".expected.npy"))
                same_array(load_npy(d / "q.npy", "q.npy"), want, "q.npy")
            self.check(f"fixture png/{p.name}", runp)
        for p in sorted((root / "json").glob("*.json")):
            exp = p.with_name(p.stem + ".expected.npy")
            if not exp.exists():
                continue

            def runj(d: Path, p=p, exp=exp):
                t.run("decode", p, "-o", d / "y.npy")
                same_array(load_npy(d / "y.npy", "y.npy"), np.load(exp), "y.npy")
            self.check(f"fixture json/{p.name}", runj)


def main(argv: list[str]) -> int:
    def run(runner: Runner) -> None:
        runner.all_tensors()
        runner.zlib_blocks()
        runner.png_to_envelope()
        runner.array_to_png()
        runner.image_chw()
        runner.cast_checks()

    return harness.main(
        argv, name="live_check", description=__doc__.split("\n\n")[0],
        fixtures_help="also run the binary over the committed fixtures", runner_class=Runner,
        banner=lambda: f"NumPy {np.__version__}, Pillow {PIL.__version__}", run=run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
