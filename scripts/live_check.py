#!/usr/bin/env python3
"""Live interop check: real NumPy / Pillow against a built tensorjson binary.

    PY=$(bash scripts/python-venv.sh)
    "$PY" scripts/live_check.py target/release/tensorjson

Python writes .npy / PNG / JSON files with NumPy, Pillow and json, runs the
binary on them through its CLI, and reads the results back with the same
libraries:

  encode  .npy -> envelope   every dtype x byte order x memory order, 0-d, empty
  decode  envelope -> .npy   (Python-written envelopes), also via --compress zlib
  pipe    stdin/stdout forms (`encode -`, `decode - --to npy|png`)
  image   PNG -> image envelope -> pixels; arrays -> PNG read back by Pillow

One line per check, then a summary line `N passed, M failed`; exit status 1 if
any check failed (or the binary is missing), 0 otherwise.

CLI contract exercised:
    tensorjson encode [INPUT] [-o OUTPUT] [--compress zlib] [--pretty]
    tensorjson decode [INPUT] [-o OUTPUT] [--to npy|png] [--layout hwc|chw]
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
        runner.png_to_envelope()
        runner.array_to_png()

    return harness.main(
        argv, name="live_check", description=__doc__.split("\n\n")[0],
        fixtures_help="also run the binary over the committed fixtures", runner_class=Runner,
        banner=lambda: f"NumPy {np.__version__}, Pillow {PIL.__version__}", run=run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
