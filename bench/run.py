#!/usr/bin/env python3
"""tensorjson benchmark: wall time, throughput and peak RSS against coreutils base64 and the
hand-written Python approach, on the same data, in one invocation.

    python3 bench/run.py [--size-mib 256] [--big] [--binary PATH] [--quick] [--repeat 3] [--json FILE]

See bench/README.md for what is measured and how. Exit status: 0 when every command succeeded
and every output was bit-exact (whether or not the performance targets are met), 1 when a
command failed or an output was wrong, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import binascii
import datetime
import io
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from common import BenchError, build_binary, log, reexec_under, run_main, venv_python

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY_REFERENCE = HERE / "py_reference.py"
MiB = 1 << 20

# The targets (issue 4), as ratios measured in the same run.
TARGET_ENCODE_RATIO = 0.4  # tensorjson encode / `base64 -w0`
TARGET_DECODE_RATIO = 0.4  # tensorjson decode / `base64 -d`
TARGET_RSS_MIB = 16.0
# Issue 10 item 1: KServe number lists, tensorjson / orjson (`orjson.dumps`, `orjson.loads` +
# `numpy.array`).
TARGET_KSERVE_RATIO = 0.5


# --------------------------------------------------------------------------------------------
# Command line and bootstrap


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark tensorjson against coreutils base64 and the hand-written Python "
        "approach: wall time, throughput, peak RSS, ratios.",
    )
    p.add_argument("--size-mib", type=int, default=256, metavar="N",
                   help="size of the float32 array in MiB (default 256)")
    p.add_argument("--big", action="store_true",
                   help="also run everything on a 2 GiB array (needs ~9x that on disk)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: a 16 MiB array (overrides --size-mib)")
    p.add_argument("--binary", metavar="PATH",
                   help="tensorjson binary to measure (default: `cargo build --release` here)")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="runs per operation; the best (lowest) wall time is reported (default 3)")
    p.add_argument("--startup-runs", type=int, default=20, metavar="N",
                   help="runs of the 1 KiB start-up measurement (default 20)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    p.add_argument("--workdir", metavar="DIR", default="/tmp",
                   help="where the temporary directory goes; must be on disk (default /tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (its path is printed)")
    a = p.parse_args(argv)
    if a.quick:
        a.size_mib = 16
    if a.size_mib < 1:
        p.error("--size-mib must be at least 1")
    if a.repeat < 1 or a.startup_runs < 1:
        p.error("--repeat and --startup-runs must be at least 1")
    return a


# --------------------------------------------------------------------------------------------
# Measuring a command: wall time and peak RSS

WRAPPER = r"""
import os, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("cannot run %s: %s\n" % (argv[0], e)).encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(out, "w") as f:
    f.write("%d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@dataclass
class Run:
    wall: float  # seconds, perf_counter around the whole command
    rss_kib: int  # peak RSS of the measured process (ru_maxrss, KiB)
    stderr: str = ""


class Meter:
    """Runs a command with stdin/stdout from files or pipes and measures it.

    Wall time: time.perf_counter() around spawn-to-exit, in this process.
    Peak RSS: the measured process's ru_maxrss, taken by GNU time (`/usr/bin/time -f %M`),
    which forks the command from its own ~1 MiB process. Measuring with os.wait4 directly from
    this Python process would be wrong: Linux carries the parent's RSS high-water mark across
    fork+exec into the child's ru_maxrss, so every command would show this process's size.
    Without GNU time, a minimal `python -S -I` wrapper forks the command instead; its own
    ~8 MiB then is the floor of every reading (the `true` floor is printed either way).
    """

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.rusage_file = tmp / "rusage.txt"
        self.stderr_file = tmp / "stderr.txt"
        self.time_bin = shutil.which("time", path="/usr/bin:/bin") or ""
        self.method = "python-wrapper"
        if self.time_bin and self._gnu_time_works():
            self.method = "gnu-time"
        self.floor_kib = self.run(["true"]).rss_kib

    def _gnu_time_works(self) -> bool:
        try:
            r = subprocess.run([self.time_bin, "-f", "%e %M", "-o", str(self.rusage_file), "true"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return r.returncode == 0 and self._read_rss() is not None
        except OSError:
            return False

    def _read_rss(self) -> int | None:
        try:
            lines = self.rusage_file.read_text().split("\n")
        except OSError:
            return None
        for line in reversed(lines):  # GNU time puts "Command exited with ..." first
            m = re.fullmatch(r"\s*(?:[\d.]+\s+)?(\d+)\s*", line)
            if m:
                return int(m.group(1))
        return None

    def wrap(self, argv: list[str]) -> list[str]:
        if self.method == "gnu-time":
            return [self.time_bin, "-f", "%e %M", "-o", str(self.rusage_file), "--", *argv]
        return [sys.executable, "-S", "-I", "-c", WRAPPER, str(self.rusage_file), *argv]

    def run(self, argv: list[str], stdin: Path | None = None, stdout: Path | None = None,
            pipe_in: bool = False, pipe_out: bool = False) -> Run:
        """Run argv once. stdin/stdout are files, or with pipe_in/pipe_out they are fed by
        `cat stdin |` and drained by `| cat > stdout` (only argv itself is measured for RSS)."""
        self.rusage_file.unlink(missing_ok=True)
        if stdout is not None:
            stdout.unlink(missing_ok=True)
        files = []
        procs = []
        try:
            errf = open(self.stderr_file, "wb")
            files.append(errf)
            t0 = time.perf_counter()
            feeder = sink = None
            if stdin is None:
                in_arg = subprocess.DEVNULL
            elif pipe_in:
                feeder = subprocess.Popen(["cat", str(stdin)], stdout=subprocess.PIPE)
                procs.append(feeder)
                in_arg = feeder.stdout
            else:
                in_arg = open(stdin, "rb")
                files.append(in_arg)
            if stdout is None:
                out_arg = subprocess.DEVNULL
            elif pipe_out:
                outf = open(stdout, "wb")
                files.append(outf)
                sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=outf)
                procs.append(sink)
                out_arg = sink.stdin
            else:
                out_arg = open(stdout, "wb")
                files.append(out_arg)
            main = subprocess.Popen(self.wrap(argv), stdin=in_arg, stdout=out_arg, stderr=errf)
            procs.append(main)
            # Our copies of the pipe ends must go, or the other side never sees EOF.
            if feeder is not None:
                feeder.stdout.close()
            if sink is not None:
                sink.stdin.close()
            rc = main.wait()
            other_rcs = [p.wait() for p in procs if p is not main]
            wall = time.perf_counter() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for f in files:
                f.close()
        err = self.stderr_file.read_text(errors="replace")
        cmd = shlex.join(argv)
        if rc != 0:
            tail = "\n".join(err.strip().splitlines()[-10:])
            raise BenchError(f"command failed (exit {rc}): {cmd}\n{tail}")
        if any(other_rcs):
            raise BenchError(f"a cat in the pipeline around `{cmd}` failed: {other_rcs}")
        rss = self._read_rss()
        if rss is None:
            raise BenchError(f"no peak RSS recorded for: {cmd}")
        return Run(wall=wall, rss_kib=rss, stderr=err)


def spawn_wall(argv: list[str], stdout_path: Path) -> float:
    """Wall time of one plain spawn-to-exit, no wrapper (for the start-up measurement)."""
    with open(stdout_path, "wb") as out:
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.DEVNULL).returncode
        wall = time.perf_counter() - t0
    if rc != 0:
        raise BenchError(f"command failed (exit {rc}): {shlex.join(argv)}")
    return wall


# --------------------------------------------------------------------------------------------
# Streaming verification: every output is checked bit-exact against the raw bytes


class Fail(BenchError):
    pass


class CompareSink:
    """Checks that the bytes fed to it are exactly the contents of a file."""

    def __init__(self, path: Path, what: str):
        self.f = open(path, "rb")
        self.off = 0
        self.what = what

    def feed(self, b: bytes) -> None:
        if not b:
            return
        exp = self.f.read(len(b))
        if exp != b:
            n = min(len(exp), len(b))
            i = next((k for k in range(n) if exp[k] != b[k]), n)
            self.f.close()
            if i == len(exp) and len(exp) < len(b):
                raise Fail(f"{self.what}: longer than the expected {self.off + len(exp)} bytes")
            raise Fail(f"{self.what}: differs from the expected bytes at byte {self.off + i}")
        self.off += len(b)

    def close(self) -> None:
        more = self.f.read(1)
        self.f.close()
        if more:
            raise Fail(f"{self.what}: only {self.off} bytes, shorter than expected")


class NpySink:
    """Parses a .npy header from the stream, checks dtype/shape/order, forwards the data."""

    def __init__(self, out, shape: tuple, what: str):
        self.out, self.shape, self.what = out, tuple(shape), what
        self.head = bytearray()
        self.done = False

    def feed(self, b: bytes) -> None:
        if self.done:
            self.out.feed(b)
            return
        self.head += b
        if len(self.head) < 12:
            return
        if self.head[:6] != b"\x93NUMPY":
            raise Fail(f"{self.what}: not a .npy file (magic {bytes(self.head[:6])!r})")
        major = self.head[6]
        if major == 1:
            hlen, start = int.from_bytes(self.head[8:10], "little"), 10
        elif major in (2, 3):
            hlen, start = int.from_bytes(self.head[8:12], "little"), 12
        else:
            raise Fail(f"{self.what}: unknown .npy version {major}")
        if len(self.head) < start + hlen:
            return
        import numpy as np
        from numpy.lib import format as npf

        bio = io.BytesIO(bytes(self.head[:start + hlen]))
        version = npf.read_magic(bio)
        try:
            if version == (1, 0):
                shape, fortran, dtype = npf.read_array_header_1_0(bio)
            elif version == (2, 0):
                shape, fortran, dtype = npf.read_array_header_2_0(bio)
            else:  # 3.0 (utf-8 header) has no public reader
                shape, fortran, dtype = npf._read_array_header(bio, version)
        except ValueError as e:
            raise Fail(f"{self.what}: bad .npy header: {e}") from None
        if dtype != np.dtype("<f4") or fortran or tuple(shape) != self.shape:
            raise Fail(f"{self.what}: .npy header says dtype {dtype.str}, shape {shape}, "
                       f"fortran_order {fortran}; expected <f4, {self.shape}, False")
        self.done = True
        rest = bytes(self.head[start + hlen:])
        self.head = bytearray()
        self.out.feed(rest)

    def close(self) -> None:
        if not self.done:
            raise Fail(f"{self.what}: truncated .npy header")
        self.out.close()


class ZlibSink:
    def __init__(self, out, what: str, wbits: int = 15):
        self.out, self.what = out, what
        self.d = zlib.decompressobj(wbits)

    def feed(self, b: bytes) -> None:
        try:
            while b:
                self.out.feed(self.d.decompress(b, 16 * MiB))
                b = self.d.unconsumed_tail
        except zlib.error as e:
            raise Fail(f"{self.what}: bad zlib stream: {e}") from None
        if self.d.unused_data:
            raise Fail(f"{self.what}: bytes after the end of the zlib stream")

    def close(self) -> None:
        self.out.feed(self.d.flush())
        if not self.d.eof:
            raise Fail(f"{self.what}: zlib stream is truncated")
        self.out.close()


class B64Sink:
    """Decodes standard padded base64 (strictly: no whitespace, no URL-safe alphabet) in chunks.
    With prefixes, the text must start with one of them; it picks the next stage."""

    def __init__(self, out, what: str, prefixes: dict | None = None):
        self.out, self.what = out, what
        self.prefixes = prefixes  # {b"b64:": make_stage, ...} or None
        self.pending = b""
        self.padded = False
        self.started = prefixes is None

    def _a2b(self, s: bytes) -> bytes:
        if self.padded:
            raise Fail(f"{self.what}: base64 text continues after padding")
        try:
            r = binascii.a2b_base64(s, strict_mode=True)
        except TypeError:  # Python < 3.11
            if re.search(rb"[^A-Za-z0-9+/=]", s):
                raise Fail(f"{self.what}: base64 text has characters outside the alphabet")
            r = binascii.a2b_base64(s)
        except binascii.Error as e:
            raise Fail(f"{self.what}: invalid base64: {e}") from None
        self.padded = s.endswith(b"=")
        return r

    def feed(self, b: bytes) -> None:
        if not self.started:
            self.pending += b
            for p, stage in self.prefixes.items():
                if self.pending.startswith(p):
                    self.out = stage(self.out)
                    b, self.pending, self.started = self.pending[len(p):], b"", True
                    break
            else:
                if len(self.pending) >= max(map(len, self.prefixes)):
                    raise Fail(f"{self.what}: payload starts {self.pending[:12]!r}, expected "
                               f"one of {list(self.prefixes)}")
                return
        s = self.pending + b if self.pending else b
        k = len(s) - len(s) % 4
        if k:
            self.out.feed(self._a2b(s[:k]))
        self.pending = s[k:]

    def close(self) -> None:
        if not self.started:
            raise Fail(f"{self.what}: payload too short: {self.pending!r}")
        if self.pending:
            raise Fail(f"{self.what}: base64 length is not a multiple of 4 (missing padding?)")
        self.out.close()


BIG = "\u0000tensorjson-bench-payload\u0000"
BACKSLASH = 0x5C


def _find_quote(data: bytes, pos: int) -> int:
    """The first unescaped `"` at or after pos (pos is never inside an escape), or -1."""
    q = data.find(b'"', pos)
    while q >= 0:
        k = q
        while k > pos and data[k - 1] == BACKSLASH:
            k -= 1
        if (q - k) % 2 == 0:
            return q
        q = data.find(b'"', q + 1)
    return -1


def _escape_boundary(data: bytes, pos: int, n: int) -> int:
    """The largest end <= n such that data[pos:end] does not stop inside an escape."""
    j = data.rfind(b"\\", max(pos, n - 6), n)
    if j < 0:
        return n
    k = j
    while k > pos and data[k - 1] == BACKSLASH:
        k -= 1
    if (j - k) % 2 == 1:  # j is the second half of `\\`
        return n
    if j + 1 == n or (data[j + 1] == 0x75 and j + 6 > n):  # `\` or `\uXX` cut off
        return j
    return n


def scan_json(path: Path, make_sink, what: str, chunk: int = 4 * MiB, small: int = 1 << 16):
    """Parses a JSON document of any size with flat memory: a string longer than `small` is
    streamed (escapes decoded) into make_sink() and replaced by BIG in the parsed result.
    At most one such string is allowed (the payload); the rest must be small."""
    skel = bytearray()
    strbuf = bytearray()  # the current string's raw text while it is small
    in_str = False
    sink = None
    n_big = 0
    carry = b""

    def unescape(seg: bytes) -> bytes:
        if BACKSLASH not in seg:
            return seg
        try:
            return json.loads(b'"' + seg + b'"').encode("utf-8", "surrogatepass")
        except ValueError as e:
            raise Fail(f"{what}: invalid JSON string: {e}") from None

    def add(seg: bytes) -> None:
        nonlocal sink, n_big
        if sink is not None:
            sink.feed(unescape(seg))
            return
        strbuf.extend(seg)
        if len(strbuf) > small:
            n_big += 1
            if n_big > 1:
                raise Fail(f"{what}: more than one large string in the document")
            sink = make_sink()
            sink.feed(unescape(bytes(strbuf)))
            strbuf.clear()

    with open(path, "rb") as f:
        while True:
            more = f.read(chunk)
            if not more:
                break
            data, carry = carry + more if carry else more, b""
            pos, n = 0, len(data)
            while pos < n:
                if not in_str:
                    q = data.find(b'"', pos)
                    if q < 0:
                        skel += data[pos:]
                        break
                    skel += data[pos:q + 1]
                    pos, in_str = q + 1, True
                    if len(skel) > 16 * MiB:
                        raise Fail(f"{what}: more than 16 MiB of JSON outside the payload")
                    continue
                q = _find_quote(data, pos)
                end = q if q >= 0 else _escape_boundary(data, pos, n)
                if end > pos:
                    add(data[pos:end])
                if q < 0:
                    carry = data[end:]  # an escape cut by the chunk boundary
                    break
                if sink is not None:
                    sink.close()
                    sink = None
                    skel += json.dumps(BIG)[1:-1].encode("ascii")
                else:
                    skel += strbuf
                    strbuf.clear()
                skel += b'"'
                pos, in_str = q + 1, False
    if in_str or carry:
        raise Fail(f"{what}: truncated JSON (ends inside a string)")
    try:
        return json.loads(bytes(skel))
    except ValueError as e:
        raise Fail(f"{what}: invalid JSON: {e}") from None


@dataclass
class Expect:
    """What the data is: the raw bytes, their .npy shape, and the files holding them."""
    shape: tuple
    raw: Path  # the array's bytes (the .npy data without header)
    b64: Path  # base64 of raw, no line breaks


@dataclass
class Variant:
    """One way of writing JSON: tensorjson encode args and how to check the result."""
    name: str
    args: list
    label: str

    def payload_chain(self, exp: Expect, what: str):
        """Sink for the payload string: base64 -> [zlib] -> [.npy header] -> compare raw."""
        cmp = CompareSink(exp.raw, what)
        if self.name == "zlib":
            return B64Sink(ZlibSink(cmp, what), what)
        if self.name == "npy-base64":
            return B64Sink(NpySink(cmp, exp.shape, what), what)
        if self.name == "json-tricks":
            return B64Sink(cmp, what, prefixes={
                b"b64.gz:": lambda out: ZlibSink(out, what, wbits=31),
                b"b64:": lambda out: out,
            })
        return B64Sink(cmp, what)

    def check_document(self, doc, exp: Expect, what: str):
        """Checks everything but the payload; returns the payload value (BIG if streamed)."""
        import numpy as np

        def meta(cond, msg):
            if not cond:
                raise Fail(f"{what}: {msg}; document without payload: {short(doc)}")

        if self.name == "npy-base64":
            meta(isinstance(doc, str), "expected a JSON string")
            return doc
        meta(isinstance(doc, dict), "expected a JSON object")
        key = {"json-numpy": "__numpy__", "json-tricks": "__ndarray__"}.get(self.name, "data")
        meta(isinstance(doc.get(key), str), f"no string {key!r}")
        meta(doc.get("shape") == list(exp.shape), f"shape is not {list(exp.shape)}")
        if self.name in ("native", "zlib"):
            meta(doc.get("kind") == "tensor", 'kind is not "tensor"')
            meta(doc.get("dtype") == "float32", 'dtype is not "float32"')
            meta(doc.get("compression") == ("zlib" if self.name == "zlib" else None),
                 "wrong compression")
        else:
            try:
                ok = np.dtype(doc.get("dtype")) == np.dtype("<f4")
            except TypeError:
                ok = False
            meta(ok, "dtype is not little-endian float32")
            if self.name == "json-tricks":
                meta(doc.get("Corder", True) is True, "Corder is not true")
                meta(doc.get("endian", "little") == "little", 'endian is not "little"')
        return doc[key]


NATIVE = Variant("native", [], "native")
# Dialects whose base64 may come before its dtype and shape, so that it waits (issue 10
# item 2): each decode is compared with the native decode read the same way.
WAITING = ("npy-base64", "json-numpy", "json-tricks")
TARGET_WAITING_RATIO = 1.3
VARIANTS = [
    NATIVE,
    Variant("zlib", ["--compress", "zlib"], "--compress zlib"),
    Variant("npy-base64", ["--style", "npy-base64"], "--style npy-base64"),
    Variant("json-numpy", ["--style", "json-numpy"], "--style json-numpy"),
    Variant("json-tricks", ["--style", "json-tricks"], "--style json-tricks"),
]
# `encode --compress zlib` on every core (the default) against `--threads 1`, in the same run.
TARGET_ZLIB_SPEEDUP = 1.8


def short(doc) -> str:
    s = json.dumps(doc)
    return s if len(s) < 300 else s[:300] + "..."


def verify_envelope(path: Path, variant: Variant, exp: Expect, what: str) -> None:
    chain = []

    def make_sink():
        chain.append(variant.payload_chain(exp, what))
        return chain[-1]

    doc = scan_json(path, make_sink, what)
    payload = variant.check_document(doc, exp, what)
    if payload == BIG:
        return  # streamed and checked during the scan
    if chain:
        raise Fail(f"{what}: the large string in the document is not the payload")
    sink = variant.payload_chain(exp, what)
    sink.feed(payload.encode("utf-8", "surrogatepass"))
    sink.close()


def verify_npy(path: Path, exp: Expect, what: str) -> None:
    sink = NpySink(CompareSink(exp.raw, what), exp.shape, what)
    with open(path, "rb") as f:
        while b := f.read(4 * MiB):
            sink.feed(b)
    sink.close()


def verify_same(path: Path, expected: Path, what: str) -> None:
    sink = CompareSink(expected, what)
    with open(path, "rb") as f:
        while b := f.read(4 * MiB):
            sink.feed(b)
    sink.close()


KSERVE_HEAD = re.compile(rb'\{"inputs":\[\{"name":"[^"\\]*","shape":\[([0-9,]*)\],'
                         rb'"datatype":"FP32","data":\[')


def verify_kserve(path: Path, exp: Expect, what: str) -> None:
    """A KServe v2 request holding the array as one flat list of numbers, as tensorjson and
    orjson write it: its numbers, read as Python's float() reads them and cast to float32 as
    numpy casts, are the array's bytes exactly. Streams in 4 MiB pieces (numpy's text reader,
    correctly rounded like float()), so that it needs no more memory than a piece."""
    cmp = CompareSink(exp.raw, what)
    with open(path, "rb") as f:
        head = f.read(4096)
        m = KSERVE_HEAD.match(head)
        if not m:
            raise Fail(f"{what}: not a KServe request of FP32 numbers: {head[:200]!r}")
        shape = tuple(int(x) for x in m.group(1).split(b",") if x)
        if shape != tuple(exp.shape):
            raise Fail(f"{what}: shape is {list(shape)}, not {list(exp.shape)}")
        rest = head[m.end():]
        while True:
            end = rest.find(b"]")
            if end >= 0:
                _kserve_numbers(rest[:end], cmp, what)
                tail = rest[end:] + f.read()
                break
            chunk = f.read(4 * MiB)
            if not chunk:
                raise Fail(f"{what}: truncated (the list of numbers does not end)")
            rest += chunk
            cut = rest.rfind(b",")
            if cut > 0:
                _kserve_numbers(rest[:cut], cmp, what)
                rest = rest[cut + 1:]
    if tail.rstrip(b"\n") != b"]}]}":
        raise Fail(f"{what}: unexpected text after the numbers: {tail[:200]!r}")
    cmp.close()


def _kserve_numbers(text: bytes, cmp: CompareSink, what: str) -> None:
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning) as e:
            raise Fail(f"{what}: numbers numpy cannot read ({e}): {text[:100]!r}") from None
    if len(values) != text.count(b",") + 1:
        raise Fail(f"{what}: numbers numpy cannot read: {text[:100]!r}")
    cmp.feed(values.astype("<f4").tobytes())


# --------------------------------------------------------------------------------------------
# Inputs


def make_inputs(d: Path, size_mib: int) -> tuple[Path, Expect]:
    """A float32 (size_mib*256, 1024) standard-normal array as .npy (header exactly as numpy.save
    writes it), its raw bytes, and their base64 text (no line breaks), written in 12 MiB pieces
    (a multiple of 3 bytes, so the base64 pieces concatenate) to keep memory small."""
    import numpy as np
    from numpy.lib import format as npf

    rows, cols = size_mib * 256, 1024
    npy, raw, b64 = d / "x.npy", d / "raw.bin", d / "raw.b64"
    rng = np.random.default_rng(20240604)
    step = 3072  # rows per piece: 12 MiB
    with open(npy, "wb") as fn, open(raw, "wb") as fr, open(b64, "wb") as fb:
        npf.write_array_header_1_0(fn, {"descr": "<f4", "fortran_order": False,
                                        "shape": (rows, cols)})
        for r0 in range(0, rows, step):
            piece = rng.standard_normal((min(step, rows - r0), cols), dtype=np.float32)
            bts = piece.astype("<f4", copy=False).tobytes()
            fn.write(bts)
            fr.write(bts)
            fb.write(binascii.b2a_base64(bts, newline=False))
    arr = np.load(npy, mmap_mode="r")  # numpy itself must read it back as meant
    if arr.shape != (rows, cols) or arr.dtype != np.dtype("<f4") or \
            npy.stat().st_size - raw.stat().st_size != 128:
        raise BenchError("making the input .npy went wrong")
    return npy, Expect(shape=(rows, cols), raw=raw, b64=b64)


def make_tiny(d: Path) -> Path:
    """A 1 KiB .npy: 128-byte header + 224 float32."""
    import numpy as np

    p = d / "tiny.npy"
    np.save(p, np.arange(224, dtype=np.float32))
    assert p.stat().st_size == 1024
    return p


# --------------------------------------------------------------------------------------------
# Operations


@dataclass
class Op:
    key: str  # stable id for --json
    label: str  # what the table shows
    direction: str  # "encode" | "decode"
    kind: str  # "reference" | "python" | "tensorjson"
    argv: list
    stdin: Path | None
    out: Path
    verify: object  # callable(path, what)
    pipe: bool = False
    variant: str = ""
    to_stdout: bool = True  # False: the command names its output file (-o)
    via: str = ""  # "file" | "stdin" | "pipe"
    group: str = ""  # "" (the main table) | "kserve" (number lists, next to orjson)
    needs: object = None  # callable making the input, run before the first run
    runs: list = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def rss_mib(self) -> float:
        return max(r.rss_kib for r in self.runs) / 1024


def probe_variant(meter_tmp: Path, tj: str, v: Variant, tiny: Path) -> str | None:
    """None when the binary supports the variant (checked on a tiny file, both ways), else why
    not. A usage error (exit 2) means unsupported; anything else that fails is a real failure."""
    import numpy as np

    out = meter_tmp / f"probe-{v.name}.json"
    back = meter_tmp / f"probe-{v.name}.npy"
    r = subprocess.run([tj, "encode", str(tiny), "-o", str(out), *v.args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode == 2:
        first = (r.stderr.strip().splitlines() or ["usage error"])[0]
        return f"not supported by this binary ({first.removeprefix('error: ')})"
    if r.returncode != 0:
        raise BenchError(f"probe: tensorjson encode {' '.join(v.args)} failed on a 1 KiB file "
                         f"(exit {r.returncode}): {r.stderr.strip()}")
    tiny_raw = meter_tmp / "tiny.raw"
    tiny_raw.write_bytes(np.load(tiny).tobytes())
    exp = Expect(shape=(224,), raw=tiny_raw, b64=Path("/nonexistent"))
    verify_envelope(out, v, exp, f"probe {v.label} envelope")
    r = subprocess.run([tj, "decode", str(out), "-o", str(back)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BenchError(f"probe: tensorjson decode of its own {v.label} output failed "
                         f"(exit {r.returncode}): {r.stderr.strip()}")
    verify_npy(back, exp, f"probe {v.label} decode")
    return None


def plan(d: Path, tj: str, vpy: str, npy: Path, exp: Expect, variants: list[Variant],
         python_ok: bool, orjson_ok: bool):
    """The operations, in run order. Decode inputs: tensorjson's own output of each variant
    (made and verified by `prepare` just before that variant's decode runs)."""
    ops = []
    out_b64, out_bin, out_json, out_npy = d / "out.b64", d / "out.bin", d / "out.json", \
        d / "out.npy"
    env = lambda v: d / f"env-{v.name}.json"  # noqa: E731

    def check_env(v):
        return lambda p, what: verify_envelope(p, v, exp, what)

    def check_npy(p, what):
        verify_npy(p, exp, what)

    ops.append(Op("base64-encode", "`base64 -w0 raw.bin > out`", "encode", "reference",
                  ["base64", "-w0", str(exp.raw)], None, out_b64,
                  lambda p, what: verify_same(p, exp.b64, what)))
    ops.append(Op("base64-decode", "`base64 -d raw.b64 > out`", "decode", "reference",
                  ["base64", "-d", str(exp.b64)], None, out_bin,
                  lambda p, what: verify_same(p, exp.raw, what)))
    if python_ok:
        ops.append(Op("python-encode", "Python: `np.load` + `b64encode` + `json.dumps`",
                      "encode", "python", [vpy, str(PY_REFERENCE), "encode", str(npy),
                                           str(out_json)], None, out_json, check_env(NATIVE),
                      to_stdout=False))
        ops.append(Op("python-decode", "Python: `json.load` + `b64decode` + `np.save`",
                      "decode", "python", [vpy, str(PY_REFERENCE), "decode", str(env(NATIVE)),
                                           str(out_npy)], None, out_npy, check_npy,
                      to_stdout=False))
    for v in variants:
        a = v.args
        sfx = f" {' '.join(a)}" if a else ""
        ops.append(Op(f"{v.name}-encode-file", f"`tensorjson encode x.npy -o out.json{sfx}`",
                      "encode", "tensorjson", [tj, "encode", str(npy), "-o", str(out_json), *a],
                      None, out_json, check_env(v), variant=v.name, via="file",
                      to_stdout=False))
        if v.name == "zlib" and takes_threads(tj, "encode"):
            # The single-threaded zlib stream, to measure the default against in this run.
            ops.append(Op("zlib-encode-file-threads-1",
                          f"`tensorjson encode x.npy -o out.json{sfx} --threads 1`", "encode",
                          "tensorjson", [tj, "encode", str(npy), "-o", str(out_json), *a,
                                         "--threads", "1"],
                          None, out_json, check_env(v), variant=v.name, via="file",
                          to_stdout=False))
        ops.append(Op(f"{v.name}-encode-stdin", f"`tensorjson encode -{sfx} < x.npy > out.json`",
                      "encode", "tensorjson", [tj, "encode", "-", *a], npy, out_json,
                      check_env(v), variant=v.name, via="stdin"))
        if v is NATIVE:
            ops.append(Op(f"{v.name}-encode-pipe",
                          "`cat x.npy \\| tensorjson encode - \\| cat > out.json`",
                          "encode", "tensorjson", [tj, "encode", "-"], npy, out_json,
                          check_env(v), pipe=True, variant=v.name, via="pipe"))
        src = f"x.json from `encode{sfx}`" if a else "x.json native"
        ops.append(Op(f"{v.name}-decode-file", f"`tensorjson decode x.json -o out.npy` ({src})",
                      "decode", "tensorjson", [tj, "decode", str(env(v)), "-o", str(out_npy)],
                      None, out_npy, check_npy, variant=v.name, via="file",
                      to_stdout=False))
        ops.append(Op(f"{v.name}-decode-stdin",
                      f"`tensorjson decode - --to npy < x.json > out.npy` ({src})",
                      "decode", "tensorjson", [tj, "decode", "-", "--to", "npy"], env(v),
                      out_npy, check_npy, variant=v.name, via="stdin"))
        if v.name in WAITING:
            ops.append(Op(f"{v.name}-decode-pipe",
                          f"`cat x.json \\| tensorjson decode - --to npy \\| cat > out.npy` ({src})",
                          "decode", "tensorjson", [tj, "decode", "-", "--to", "npy"], env(v),
                          out_npy, check_npy, pipe=True, variant=v.name, via="pipe"))
        if v is NATIVE:
            ops.append(Op("nested-decode-file",
                          "`tensorjson decode x.json -o out.npy` (the native envelope three "
                          "levels down: `{\"a\":{\"b\":{\"c\":...}}}`)",
                          "decode", "tensorjson", [tj, "decode", str(d / "env-nested.json"),
                                                   "-o", str(out_npy)],
                          None, out_npy, check_npy, via="file", to_stdout=False))
            ops.append(Op(f"{v.name}-decode-pipe",
                          "`cat x.json \\| tensorjson decode - --to npy \\| cat > out.npy`",
                          "decode", "tensorjson", [tj, "decode", "-", "--to", "npy"], env(v),
                          out_npy, check_npy, pipe=True, variant=v.name, via="pipe"))
    ops.extend(kserve_ops(d, tj, vpy, npy, exp, orjson_ok))
    ops.extend(threads_ops(d, tj, npy, env(NATIVE), check_env(NATIVE), check_npy))
    return ops


def kserve_ops(d: Path, tj: str, vpy: str, npy: Path, exp: Expect, orjson_ok: bool) -> list:
    """KServe v2 requests, the array as a list of numbers: tensorjson next to orjson. The
    decode input is tensorjson's own request, made and verified before the first decode."""
    out_json, out_npy, env = d / "out.json", d / "out.npy", d / "env-kserve.json"

    def check_kserve(p, what):
        verify_kserve(p, exp, what)

    def check_npy(p, what):
        verify_npy(p, exp, what)

    def make_request():
        if env.exists():
            return
        r = subprocess.run([tj, "encode", str(npy), "-o", str(env), "--style", "kserve"],
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise BenchError(f"making the KServe request failed: {r.stderr.strip()}")
        verify_kserve(env, exp, "KServe request (decode input)")

    ops = [Op("kserve-encode-file", "`tensorjson encode x.npy -o out.json --style kserve`",
              "encode", "tensorjson", [tj, "encode", str(npy), "-o", str(out_json), "--style",
                                       "kserve"], None, out_json, check_kserve, via="file",
              to_stdout=False, group="kserve")]
    ops.append(Op("kserve-encode-file-1", "`tensorjson encode x.npy -o out.json --style kserve "
                  "--threads 1`", "encode", "tensorjson",
                  [tj, "encode", str(npy), "-o", str(out_json), "--style", "kserve",
                   "--threads", "1"], None, out_json, check_kserve, via="file",
                  to_stdout=False, group="kserve"))
    if orjson_ok:
        ops.append(Op("orjson-encode", "Python: `np.load` + `orjson.dumps(.., "
                      "OPT_SERIALIZE_NUMPY)`", "encode", "python",
                      [vpy, str(PY_REFERENCE), "orjson-encode", str(npy), str(out_json)], None,
                      out_json, check_kserve, to_stdout=False, group="kserve"))
    ops.append(Op("kserve-decode-file", "`tensorjson decode x.json -o out.npy` (x.json from "
                  "`encode --style kserve`)", "decode", "tensorjson",
                  [tj, "decode", str(env), "-o", str(out_npy)], None, out_npy, check_npy,
                  via="file", to_stdout=False, group="kserve", needs=make_request))
    if orjson_ok:
        ops.append(Op("orjson-decode", "Python: `orjson.loads` + `np.array(.., dtype)` + "
                      "`np.save`", "decode", "python",
                      [vpy, str(PY_REFERENCE), "orjson-decode", str(env), str(out_npy)], None,
                      out_npy, check_npy, to_stdout=False, group="kserve", needs=make_request))
    return ops


# --------------------------------------------------------------------------------------------
# base64 over threads (issue 10, item 4): the native envelope encoded and decoded from stdin
# to stdout with --threads 1, 2 and every core, to show how each direction scales.


def thread_counts() -> list[int]:
    """1, 2 and every core this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return sorted({1, 2, cores or 1})


def takes_threads(tj: str, command: str) -> bool:
    r = subprocess.run([tj, command, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return "--threads" in r.stdout


def threads_ops(d: Path, tj: str, npy: Path, envelope: Path, check_env, check_npy) -> list:
    ops = []
    if not (takes_threads(tj, "encode") and takes_threads(tj, "decode")):
        log("   --threads rows skipped: the binary's decode has no --threads")
        return ops
    counts = thread_counts()
    for n in counts:
        ops.append(Op(f"threads-{n}-encode",
                      f"`tensorjson encode - --threads {n} < x.npy > out.json`",
                      "encode", "tensorjson", [tj, "encode", "-", "--threads", str(n)], npy,
                      d / "out.json", check_env, variant=NATIVE.name, via="stdin"))
    for n in counts:
        ops.append(Op(f"threads-{n}-decode",
                      f"`tensorjson decode - --to npy --threads {n} < x.json > out.npy`",
                      "decode", "tensorjson",
                      [tj, "decode", "-", "--to", "npy", "--threads", str(n)], envelope,
                      d / "out.npy", check_npy, variant=NATIVE.name, via="stdin"))
    return ops


def run_size(d: Path, meter: Meter, tj: str, vpy: str, size_mib: int, variants, skipped,
             repeat: int) -> dict:
    import numpy as np  # noqa: F401

    raw_bytes = size_mib * MiB
    need = int(raw_bytes * 15.5)  # with two KServe requests of ~2.9x the array
    free = shutil.disk_usage(d).free
    if free < need:
        raise BenchError(f"{size_mib} MiB run needs ~{need / MiB / 1024:.1f} GiB free in {d}, "
                         f"have {free / MiB / 1024:.1f} GiB")
    log(f"== {size_mib} MiB: making inputs in {d}")
    npy, exp = make_inputs(d, size_mib)

    notes = []
    mem_avail = meminfo_available()
    python_ok = mem_avail is None or mem_avail > 6 * raw_bytes
    if not python_ok:
        notes.append(f"Python reference skipped: needs ~5x the array in memory, "
                     f"{mem_avail / MiB:.0f} MiB available")

    # orjson.loads holds the text, a Python float per element and the list (~21x the array).
    orjson_ok = mem_avail is None or mem_avail > 24 * raw_bytes
    if not orjson_ok:
        notes.append(f"orjson rows skipped: need ~21x the array in memory, "
                     f"{mem_avail / MiB:.0f} MiB available")
    elif not has_orjson(vpy):
        orjson_ok = False
        notes.append("orjson rows skipped: orjson is not installed in the venv "
                     "(scripts/requirements.txt)")
    ops = plan(d, tj, vpy, npy, exp, variants, python_ok, orjson_ok)
    prepared = set()

    def prepare(v: Variant) -> None:
        """tensorjson's own envelope of this variant, verified, as the decode input."""
        if v.name in prepared:
            return
        for name in list(prepared):  # keep the disk footprint to one envelope at a time...
            if name != NATIVE.name:  # ...besides the native one, which Python decodes too
                (d / f"env-{name}.json").unlink(missing_ok=True)
                prepared.discard(name)
        p = d / f"env-{v.name}.json"
        r = subprocess.run([tj, "encode", str(npy), "-o", str(p), *v.args],
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise BenchError(f"making the {v.label} envelope failed: {r.stderr.strip()}")
        verify_envelope(p, v, exp, f"{v.label} envelope (decode input)")
        prepared.add(v.name)

    prepare(NATIVE)
    nest(d / f"env-{NATIVE.name}.json", d / "env-nested.json")
    sizes = {"npy": npy.stat().st_size, "raw": raw_bytes, "b64": exp.b64.stat().st_size}
    for i, op in enumerate(ops, 1):
        if op.direction == "decode" and op.variant:
            v = next(v for v in variants if v.name == op.variant)
            prepare(v)
            sizes[f"envelope {v.label}"] = (d / f"env-{v.name}.json").stat().st_size
        if op.needs:
            op.needs()
        for k in range(repeat):
            op.out.unlink(missing_ok=True)
            stdout = op.out if op.to_stdout else d / "stdout.txt"
            r = meter.run(op.argv, stdin=op.stdin, stdout=stdout, pipe_in=op.pipe,
                          pipe_out=op.pipe)
            what = f"output of {strip_md(op.label)} (run {k + 1})"
            if not op.out.exists():
                raise Fail(f"{what}: no output file")
            if not op.to_stdout and stdout.stat().st_size:
                raise Fail(f"{strip_md(op.label)} wrote {stdout.stat().st_size} bytes to "
                           f"stdout besides its -o file")
            op.verify(op.out, what)
            op.out.unlink()
            op.runs.append(r)
            log(f"[{i}/{len(ops)}] {strip_md(op.label)}: run {k + 1}/{repeat}: "
                f"{r.wall:.3f} s, {r.rss_kib / 1024:.1f} MiB")
            if r.stderr.strip():
                note = f"{strip_md(op.label)} wrote to stderr: {r.stderr.strip()[:200]!r}"
                if note not in notes:
                    notes.append(note)
    for p in d.iterdir():
        if p.is_file():
            p.unlink()
    return {"size_mib": size_mib, "shape": list(exp.shape), "sizes": sizes, "ops": ops,
            "notes": notes}


def nest(envelope: Path, nested: Path) -> None:
    """The envelope as an application's response holds it, three levels down, beside other
    keys: what `decode` must find by searching, and keep in a temporary file meanwhile."""
    with open(nested, "wb") as out, open(envelope, "rb") as inp:
        out.write(b'{"meta":{"id":7,"model":"m"},"a":{"b":{"c":')
        shutil.copyfileobj(inp, out, 4 * MiB)
        out.seek(out.tell() - 1)  # over the envelope's final newline
        out.write(b'}},"latency_ms":1.5}')


def has_orjson(vpy: str) -> bool:
    return subprocess.run([vpy, "-c", "import orjson"], stderr=subprocess.DEVNULL).returncode == 0


def strip_md(s: str) -> str:
    return s.replace("`", "").replace("\\|", "|")


def meminfo_available() -> int | None:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def startup(d: Path, tj: str, runs: int) -> dict:
    tiny = make_tiny(d)
    out = d / "tiny-out.json"
    tj_walls = [spawn_wall([tj, "encode", str(tiny), "-o", str(out)], d / "stdout.txt")
                for _ in range(runs)]
    exp_raw = d / "tiny.raw"
    import numpy as np
    exp_raw.write_bytes(np.load(tiny).tobytes())
    verify_envelope(out, NATIVE, Expect((224,), exp_raw, Path("/nonexistent")),
                    "start-up output")
    true_walls = [spawn_wall(["true"], d / "stdout.txt") for _ in range(runs)]
    b64_walls = [spawn_wall(["base64", "-w0", str(exp_raw)], d / "stdout.txt")
                 for _ in range(runs)]
    return {"runs": runs, "tensorjson_ms": min(tj_walls) * 1000,
            "true_ms": min(true_walls) * 1000, "base64_ms": min(b64_walls) * 1000,
            "all_tensorjson_ms": [w * 1000 for w in tj_walls]}


# --------------------------------------------------------------------------------------------
# Report


def machine_info(tj: str, vpy: str) -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ver = subprocess.run([tj, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    b64v = subprocess.run(["base64", "--version"], stdout=subprocess.PIPE,
                          text=True).stdout.splitlines()[:1]
    npv = subprocess.run([vpy, "-c", "import numpy, sys; print(numpy.__version__, "
                          "sys.version.split()[0])"], stdout=subprocess.PIPE,
                         text=True).stdout.split()
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else None,
            "mem_mib": mem, "kernel": platform.release(), "tensorjson": ver, "binary": tj,
            "git": git.strip() or None, "base64": b64v[0] if b64v else "?",
            "numpy": npv[0] if npv else "?", "python": npv[1] if len(npv) > 1 else "?",
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def fmt_ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"


def report(res: dict, info: dict, meter: Meter, start: dict, skipped: dict) -> tuple[str, dict]:
    L = []
    L.append(f"Machine: {info['cpu']}, {info['cores']} cores"
             + (f" ({info['usable_cores']} usable)" if info["usable_cores"] not in
                (None, info["cores"]) else "")
             + (f", {info['mem_mib']} MiB RAM" if info["mem_mib"] else "")
             + f", Linux {info['kernel']}")
    L.append(f"tensorjson: {info['tensorjson']} ({info['binary']}"
             + (f", tree {info['git']}" if info["git"] else "") + ")")
    L.append(f"References: {info['base64']}; Python {info['python']}, numpy {info['numpy']}")
    L.append(f"Load average: {res['load_before']} before, {res['load_after']} after "
             f"(other processes were running if these are well above 0)")
    L.append(f"Method: best of {res['repeat']} runs; wall time by the harness "
             f"(spawn to exit); peak RSS = ru_maxrss via "
             + ("GNU time `%M`" if meter.method == "gnu-time" else "a forking Python wrapper")
             + f" (floor: `true` reads {meter.floor_kib / 1024:.1f} MiB); every output "
             f"verified bit-exact.")
    targets = []
    for sz in res["sizes"]:
        ops = sz["ops"]
        ref = {o.key: o for o in ops}
        b64 = {"encode": ref["base64-encode"].best, "decode": ref["base64-decode"].best}
        py = {dr: ref[f"python-{dr}"].best for dr in ("encode", "decode")
              if f"python-{dr}" in ref}
        raw = sz["size_mib"] * MiB
        L.append("")
        L.append(f"### float32 {tuple(sz['shape'])}: {sz['size_mib']} MiB of array bytes "
                 f"(.npy {sz['sizes']['npy'] / MiB:.1f} MiB, base64 "
                 f"{sz['sizes']['b64'] / MiB:.1f} MiB)")
        envs = [(k.removeprefix("envelope "), v) for k, v in sz["sizes"].items()
                if k.startswith("envelope ")]
        if envs:
            L.append("Envelopes written by tensorjson: " + ", ".join(
                f"{k} {v / MiB:.1f} MiB" for k, v in envs))
        L.append("")
        L.append("| operation | wall (s) | MiB/s | peak RSS (MiB) | vs base64 | vs Python |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for direction in ("encode", "decode"):
            for o in ops:
                if o.direction != direction or o.group:
                    continue
                o.ratio_b64 = o.best / b64[direction]
                o.ratio_py = o.best / py[direction] if direction in py else None
                L.append(f"| {o.label} | {o.best:.3f} | {raw / MiB / o.best:.0f} | "
                         f"{o.rss_mib:.1f} | {fmt_ratio(o.ratio_b64)} | "
                         f"{fmt_ratio(o.ratio_py)} |")
        L.append("")
        for v, why in skipped.items():
            L.append(f"- {v}: skipped, {why}")
        for n in sz["notes"]:
            L.append(f"- {n}")
        kserve_table(L, ops, raw, sz["size_mib"], targets)
        # Targets.
        for key, dr, lim in (("native-encode-file", "encode", TARGET_ENCODE_RATIO),
                             ("native-encode-stdin", "encode", TARGET_ENCODE_RATIO),
                             ("native-decode-file", "decode", TARGET_DECODE_RATIO),
                             ("native-decode-stdin", "decode", TARGET_DECODE_RATIO)):
            o = ref[key]
            refname = "base64 -w0" if dr == "encode" else "base64 -d"
            targets.append({"size_mib": sz["size_mib"], "target": f"{strip_md(o.label)}: "
                            f"<= {lim}x `{refname}`", "value": f"{o.ratio_b64:.2f}x",
                            "met": o.ratio_b64 <= lim})
        for name in WAITING:
            for via in ("file", "stdin", "pipe"):
                o, native = ref.get(f"{name}-decode-{via}"), ref.get(f"native-decode-{via}")
                if o and native:
                    ratio = o.best / native.best
                    targets.append({"size_mib": sz["size_mib"], "target": f"{strip_md(o.label)}"
                                    f": <= {TARGET_WAITING_RATIO}x native decode read the same "
                                    "way", "value": f"{ratio:.2f}x",
                                    "met": ratio <= TARGET_WAITING_RATIO})
        zlib_default, zlib_one = ref.get("zlib-encode-file"), ref.get("zlib-encode-file-threads-1")
        if zlib_default and zlib_one:
            speedup = zlib_one.best / zlib_default.best
            targets.append({"size_mib": sz["size_mib"], "target": "zlib default vs --threads 1 "
                            f"(`encode x.npy -o out.json --compress zlib`): >= "
                            f"{TARGET_ZLIB_SPEEDUP}x", "value": f"{speedup:.2f}x "
                            f"({zlib_default.best:.3f} s vs {zlib_one.best:.3f} s)",
                            "met": speedup >= TARGET_ZLIB_SPEEDUP})
        # Base64 on more than one thread is asked for, and costs memory (see the README).
        tj_ops = [o for o in ops if o.kind == "tensorjson" and not opted_threads(o)]
        over = [o for o in tj_ops if o.rss_mib > TARGET_RSS_MIB]
        worst = max(tj_ops, key=lambda o: o.rss_mib)
        targets.append({"size_mib": sz["size_mib"],
                        "target": f"peak RSS <= {TARGET_RSS_MIB:.0f} MiB, every tensorjson row "
                        "but base64 on --threads 2 or more",
                        "value": f"max {worst.rss_mib:.1f} MiB ({strip_md(worst.label)})"
                        + (f"; over: {', '.join(f'{strip_md(o.label)} {o.rss_mib:.1f}' for o in over)}"
                           if over else ""),
                        "met": not over})
    L.append("")
    L.append(f"Start-up, `tensorjson encode` of a 1 KiB .npy, best of {start['runs']}: "
             f"{start['tensorjson_ms']:.2f} ms (spawning `true` the same way: "
             f"{start['true_ms']:.2f} ms; `base64 -w0` of its 896 data bytes: "
             f"{start['base64_ms']:.2f} ms)")
    L.append("")
    L.append("### Targets (issues 4 and 10)")
    L.append("")
    for t in targets:
        L.append(f"- [{'met' if t['met'] else 'NOT met'}] {t['size_mib']} MiB: {t['target']}: "
                 f"{t['value']}")
    L.append(f"- [info] start-up: {start['tensorjson_ms']:.2f} ms (target: a few milliseconds)")
    return "\n".join(L), {"targets": targets}


def opted_threads(o) -> bool:
    """Whether the row asks for base64 on more threads than the default one."""
    a = o.argv
    return ("--threads" in a and a[a.index("--threads") + 1] != "1"
            and "--compress" not in a and "--style" not in a)


def kserve_table(L: list, ops: list, raw: int, size_mib: int, targets: list) -> None:
    """The KServe rows, each next to orjson doing the same, and their target."""
    rows = [o for o in ops if o.group == "kserve"]
    if not rows:
        return
    ref = {o.key: o for o in rows}
    L.append("")
    L.append("KServe v2 requests, the array as a flat list of numbers (issue 10 item 1):")
    L.append("")
    L.append("| operation | wall (s) | MiB/s | peak RSS (MiB) | vs orjson |")
    L.append("|---|---:|---:|---:|---:|")
    for o in rows:
        orjson = ref.get(f"orjson-{o.direction}")
        o.ratio_orjson = o.best / orjson.best if orjson else None
        L.append(f"| {o.label} | {o.best:.3f} | {raw / MiB / o.best:.0f} | {o.rss_mib:.1f} | "
                 f"{fmt_ratio(o.ratio_orjson)} |")
    for dr in ("encode", "decode"):
        o = ref.get(f"kserve-{dr}-file")
        if o and o.ratio_orjson is not None:
            targets.append({"size_mib": size_mib, "target": f"{strip_md(o.label)}: <= "
                            f"{TARGET_KSERVE_RATIO}x orjson", "value": f"{o.ratio_orjson:.2f}x",
                            "met": o.ratio_orjson <= TARGET_KSERVE_RATIO})


def to_json(res: dict, info: dict, meter: Meter, start: dict, skipped: dict, targets) -> dict:
    sizes = []
    for sz in res["sizes"]:
        sizes.append({
            "size_mib": sz["size_mib"], "shape": sz["shape"], "file_bytes": sz["sizes"],
            "notes": sz["notes"],
            "ops": [{"key": o.key, "label": strip_md(o.label), "direction": o.direction,
                     "kind": o.kind, "variant": o.variant, "via": o.via,
                     "argv": o.argv, "best_wall_s": o.best, "peak_rss_mib": o.rss_mib,
                     "throughput_mib_s": sz["size_mib"] / o.best,
                     "ratio_vs_base64": getattr(o, "ratio_b64", None),
                     "ratio_vs_python": getattr(o, "ratio_py", None),
                     "ratio_vs_orjson": getattr(o, "ratio_orjson", None),
                     "runs": [{"wall_s": r.wall, "rss_kib": r.rss_kib} for r in o.runs]}
                    for o in sz["ops"]]})
    return {"machine": info, "repeat": res["repeat"], "load_before": res["load_before"],
            "load_after": res["load_after"],
            "rss_method": meter.method, "rss_floor_kib": meter.floor_kib,
            "skipped": skipped, "startup": start, "sizes": sizes, **targets}


# --------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    vpy = venv_python()
    reexec_under(vpy, ("numpy",))
    tj = str(Path(args.binary).resolve()) if args.binary else build_binary()
    if not os.access(tj, os.X_OK):
        raise BenchError(f"not an executable: {tj}")
    for tool in ("base64", "cat", "true"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found on PATH")

    tmp = Path(tempfile.mkdtemp(prefix="tensorjson-bench-", dir=args.workdir))
    log(f"== working in {tmp}")
    try:
        meter = Meter(tmp)
        info = machine_info(tj, vpy)
        load_before = loadavg()
        data_dir = tmp / "data"
        data_dir.mkdir()
        tiny = make_tiny(tmp)
        variants, skipped = [], {}
        for v in VARIANTS:
            why = probe_variant(tmp, tj, v, tiny)
            if why:
                skipped[v.label] = why
                log(f"   {v.label}: {why}")
            else:
                variants.append(v)
        if NATIVE not in variants:
            raise BenchError("the binary cannot do a native round trip")
        res = {"repeat": args.repeat, "load_before": load_before, "sizes": []}
        sizes = [args.size_mib] + ([2048] if args.big else [])
        for s in sizes:
            res["sizes"].append(run_size(data_dir, meter, tj, vpy, s, variants, skipped,
                                         args.repeat))
        log("== start-up")
        start = startup(tmp, tj, args.startup_runs)
        res["load_after"] = loadavg()
        text, targets = report(res, info, meter, start, skipped)
        print(text)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(to_json(res, info, meter, start, skipped, targets), f, indent=2)
                f.write("\n")
            log(f"raw results written to {args.json}")
        return 0
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
