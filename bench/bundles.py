#!/usr/bin/env python3
"""tensorjson several-tensors benchmark (issue 11 item 5): .safetensors and .npz to JSON and back,
and many small .npy files to JSON Lines and back, against coreutils base64 and the Python way.

    python3 bench/bundles.py [--binary PATH] [--size-mib 256] [--tensors 16] [--small 10000]
                             [--big] [--quick] [--repeat 3]

See bench/README.md ("Several tensors"). Exit status: 0 when every command succeeded and every
output was bit-exact (targets missed are reported, not failures), 1 when a command failed or
an output was wrong, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BenchError, build_binary, log, reexec_under, run_main, venv_python

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MiB = 1 << 20

# The targets (issue 11 item 5).
TARGET_RATIO = 0.5  # tensorjson / coreutils base64 of the same bytes, rows 1-2
TARGET_RSS_MIB = 16.0  # peak RSS of every tensorjson run


# --------------------------------------------------------------------------------------------
# The Python way, each step run as its own process (`bundles.py --python-way STEP IN OUT`) so
# that its wall time and peak RSS are its own. Deliberately the code a tutorial teaches.


def envelope(a) -> dict:
    return {"kind": "tensor", "dtype": str(a.dtype), "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode("ascii")}


def from_envelope(env: dict):
    import numpy as np
    return np.frombuffer(base64.b64decode(env["data"]), dtype=env["dtype"]).reshape(env["shape"])


def py_safetensors_encode(src: str, dst: str) -> None:
    from safetensors.numpy import load_file
    doc = {name: envelope(a) for name, a in load_file(src).items()}
    with open(dst, "w") as f:
        f.write(json.dumps(doc))


def py_safetensors_decode(src: str, dst: str) -> None:
    from safetensors.numpy import save_file
    with open(src) as f:
        doc = json.loads(f.read())
    meta = doc.pop("__metadata__", None)
    save_file({name: from_envelope(env) for name, env in doc.items()}, dst, metadata=meta)


def py_npz_encode(src: str, dst: str) -> None:
    import json_numpy
    import numpy as np
    with np.load(src) as z:
        arrays = {name: z[name] for name in z.files}
    with open(dst, "w") as f:
        f.write(json_numpy.dumps(arrays))


def py_npz_decode(src: str, dst: str) -> None:
    import json_numpy
    import numpy as np
    with open(src) as f:
        arrays = json_numpy.loads(f.read())
    np.savez(dst, **arrays)


def py_lines_encode(src_dir: str, dst: str) -> None:
    import numpy as np
    with open(dst, "w") as f:
        for p in sorted(Path(src_dir).glob("*.npy")):
            f.write(json.dumps({p.stem: envelope(np.load(p))}) + "\n")


def py_lines_decode(src: str, out_dir: str) -> None:
    import numpy as np
    os.makedirs(out_dir, exist_ok=True)
    with open(src) as f:
        for line in f:
            ((name, env),) = json.loads(line).items()
            np.save(os.path.join(out_dir, name + ".npy"), from_envelope(env))


PYTHON_WAY = {f.__name__.removeprefix("py_"): f for f in (
    py_safetensors_encode, py_safetensors_decode, py_npz_encode, py_npz_decode,
    py_lines_encode, py_lines_decode)}


# --------------------------------------------------------------------------------------------
# Setup: the binary


# --------------------------------------------------------------------------------------------
# Measuring: wall time by this process, peak RSS by GNU time. Not os.wait4 from here: Linux
# carries the parent's RSS high-water mark into a forked child's ru_maxrss, so every command
# would read at least this (large) Python process; GNU time forks from its own ~1 MiB process.

TIME = "/usr/bin/time"


def measure(tmp: Path, argv: list, stdout: Path | None = None) -> tuple[float, float]:
    """Runs argv once; returns (wall seconds, peak RSS MiB). Raises when it fails."""
    rusage, errf = tmp / "rusage.txt", tmp / "stderr.txt"
    with open(stdout or os.devnull, "wb") as out, open(errf, "wb") as err:
        t0 = time.perf_counter()
        rc = subprocess.run([TIME, "-f", "%M", "-o", str(rusage), "--", *argv],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err).returncode
        wall = time.perf_counter() - t0
    if rc != 0:
        tail = errf.read_text(errors="replace").strip().splitlines()[-5:]
        shown = " ".join(argv[:6]) + (" ..." if len(argv) > 6 else "")
        raise BenchError(f"command failed (exit {rc}): {shown}\n" + "\n".join(tail))
    # GNU time writes "Command exited with ..." first when the exit status is not 0.
    return wall, int(rusage.read_text().split()[-1]) / 1024


class Op:
    """One command, run `repeat` times: the best wall time and the largest peak RSS count."""

    def __init__(self, argv: list, stdout: Path | None = None, before=None, verify=None):
        self.argv, self.stdout, self.before, self.verify = argv, stdout, before, verify
        self.walls, self.rss = [], []

    def run(self, tmp: Path, repeat: int, label: str) -> "Op":
        for k in range(repeat):
            if self.before:
                self.before()  # remove the previous run's output, outside the timing
            wall, rss = measure(tmp, self.argv, self.stdout)
            if self.verify:
                self.verify()  # every run's output, before the next run overwrites it
            self.walls.append(wall)
            self.rss.append(rss)
            log(f"   {label}: run {k + 1}/{repeat}: {wall:.3f} s, {rss:.1f} MiB")
        return self

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def peak(self) -> float:
        return max(self.rss)


# --------------------------------------------------------------------------------------------
# Verification


def same_file(a: Path, b: Path, what: str) -> None:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        off = 0
        while True:
            x, y = fa.read(4 * MiB), fb.read(4 * MiB)
            if x != y:
                n = min(len(x), len(y))
                i = next((k for k in range(n) if x[k] != y[k]), n)
                raise BenchError(f"{what}: {a.name} differs from {b.name} at byte {off + i}")
            if not x:
                return
            off += len(x)


def same_arrays(got: list, want: list, what: str) -> None:
    """got/want: lists of (name, array); names, order, dtype, shape and bytes must match."""
    if [n for n, _ in got] != [n for n, _ in want]:
        raise BenchError(f"{what}: names {[n for n, _ in got][:5]}... are not "
                         f"{[n for n, _ in want][:5]}...")
    for (name, a), (_, b) in zip(got, want):
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            raise BenchError(f"{what}: {name}: {a.dtype} {a.shape} is not {b.dtype} {b.shape} "
                             "or its bytes differ")


def npz_arrays(path: Path) -> list:
    import numpy as np
    with np.load(path) as z:
        return [(name, z[name]) for name in z.files]


def safetensors_arrays(path: Path) -> list:
    from safetensors.numpy import load_file
    return list(load_file(str(path)).items())


def native_arrays(path: Path) -> list:
    with open(path) as f:
        doc = json.loads(f.read())
    return [(name, from_envelope(env)) for name, env in doc.items() if name != "__metadata__"]


def json_numpy_arrays(path: Path) -> list:
    import json_numpy
    with open(path) as f:
        return list(json_numpy.loads(f.read()).items())


def lines_arrays(path: Path) -> list:
    with open(path) as f:
        return [(name, from_envelope(env)) for line in f
                for name, env in json.loads(line).items()]


def same_dirs(got: Path, want: list, what: str) -> None:
    """Every file of `want` is in `got` with the same bytes, and nothing else is."""
    names = sorted(p.name for p in got.iterdir())
    if names != sorted(p.name for p in want):
        raise BenchError(f"{what}: {len(names)} files, not the {len(want)} expected")
    for p in want:
        if (got / p.name).read_bytes() != p.read_bytes():
            raise BenchError(f"{what}: {p.name} differs from its input")


# --------------------------------------------------------------------------------------------
# Inputs


def b64_file(src: Path, dst: Path) -> None:
    """base64 text of src, no line breaks, by Python (not by the coreutils being measured)."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while b := fi.read(12 * MiB):  # a multiple of 3: the pieces concatenate
            fo.write(binascii.b2a_base64(b, newline=False))


def make_bundle(d: Path, size_mib: int, n: int, stem: str) -> tuple:
    """n float32 standard-normal tensors of size_mib MiB in all, as .safetensors (with a
    __metadata__ entry, as model files have) and as .npz; both hold the tensors in name order."""
    import numpy as np
    from safetensors.numpy import save_file

    per = size_mib * MiB // 4 // n  # elements per tensor
    shape = (per // 1024, 1024) if per % 1024 == 0 else (per,)
    rng = np.random.default_rng(11)
    arrays = {f"t{i:03d}": rng.standard_normal(shape, dtype=np.float32) for i in range(n)}
    st, npz = d / f"{stem}.safetensors", d / f"{stem}.npz"
    # One metadata key: save_file writes several in a random (hash map) order, and then no
    # writer can promise the bytes of "the" file save_file writes.
    save_file(arrays, str(st), metadata={"format": "np"})
    np.savez(npz, **arrays)
    return st, npz, list(arrays)


def make_small(d: Path, n: int) -> tuple[Path, list]:
    import numpy as np
    src = d / "small"
    src.mkdir()
    rng = np.random.default_rng(5)
    files = []
    for i in range(n):
        files.append(src / f"a{i:05d}.npy")
        np.save(files[-1], rng.standard_normal((16, 16), dtype=np.float32))
    return src, files


# --------------------------------------------------------------------------------------------
# The rows


class Row:
    def __init__(self, label: str, ref_label: str, tj: Op, ref: Op | None, py: Op | None,
                 target_ratio: float | None):
        self.label, self.ref_label, self.tj, self.ref, self.py = label, ref_label, tj, ref, py
        self.target_ratio = target_ratio
        self.ratio = tj.best / ref.best if ref else None


def unlink(*paths: Path):
    return lambda: [p.unlink(missing_ok=True) for p in paths]


def move_aside(p: Path):
    """Moves the previous run's output directory out of the way rather than deleting it: ext4
    makes files slow to create right after thousands were deleted (its inode allocator steps
    over recently deleted inodes), which would charge one run for the last one's clean-up."""
    runs = iter(range(1, 1 << 30))
    return lambda: p.exists() and p.rename(p.with_name(f"{p.name}.old{next(runs)}"))


def clear(d: Path, keep: Path | None = None) -> None:
    """Empties d but for keep: the next row's inputs need the disk more."""
    for p in d.iterdir():
        if p != keep:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def probe_npz(d: Path, tj: str) -> tuple[str | None, str | None]:
    """Why the binary cannot read / write .npz (None when it can). Checked on a tiny archive:
    a refusal that names .npz or zip is 'not supported yet'; any other failure is a failure."""
    import numpy as np
    tiny, js, back = d / "probe.npz", d / "probe.json", d / "probe-back.npz"
    np.savez(tiny, a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.arange(3, dtype="<i8"))

    def refused(argv, what):
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode == 0:
            return None
        if ".npz" in r.stderr or "zip" in r.stderr:
            return f"skipped: binary does not {what} .npz"
        raise BenchError(f"probe: {' '.join(argv)} failed (exit {r.returncode}): {r.stderr}")

    why = refused([tj, "encode", str(tiny), "-o", str(js)], "read")
    if why:
        return why, why
    why_write = refused([tj, "decode", str(js), "-o", str(back)], "write")
    if not why_write:
        same_arrays(npz_arrays(back), npz_arrays(tiny), "probe .npz round trip")
    return None, why_write


def bundle_rows(d: Path, tmp: Path, tj: str, vpy: str, size_mib: int, n: int, repeat: int,
                python: bool, npz_why: tuple) -> tuple[list, list]:
    """Rows 1-2 (or row 4 with --big): safetensors and npz to JSON and back."""
    tag = f"{size_mib} MiB, {n} tensors"
    log(f"== {tag}: making inputs")
    st, npz, names = make_bundle(d, size_mib, n, "x")
    rows, notes = [], []
    me = [vpy, str(Path(__file__).resolve()), "--python-way"]
    js, py_js, out = d / "x.json", d / "py.json", d / "out"
    y_st, y_npz, py_st, py_npz = (d / "y.safetensors", d / "y.npz", d / "py-y.safetensors",
                                  d / "py-y.npz")

    def refs(src: Path) -> tuple[Op, Op]:
        b64 = d / "ref.b64"
        b64_file(src, b64)
        enc = Op(["base64", "-w0", str(src)], stdout=out,
                 verify=lambda: same_file(out, b64, "base64 -w0"))
        dec = Op(["base64", "-d", str(b64)], stdout=out,
                 verify=lambda: same_file(out, src, "base64 -d"))
        return enc.run(tmp, repeat, "base64 -w0"), dec.run(tmp, repeat, "base64 -d")

    # Row: .safetensors. Both decoders read tensorjson's own JSON (the Python one is a second,
    # independent check of it); later encode runs must write the very bytes of the first.
    ref_enc, ref_dec = refs(st)
    first = d / "first.json"

    def check_tj_json():
        if first.exists():
            same_file(js, first, "tensorjson encode (against its first run)")
        else:
            shutil.copyfile(js, first)

    enc = Op([tj, "encode", str(st), "-o", str(js)], before=unlink(js),
             verify=check_tj_json).run(tmp, repeat, "tensorjson encode x.safetensors")
    dec = Op([tj, "decode", str(js), "-o", str(y_st)], before=unlink(y_st),
             verify=lambda: same_file(y_st, st, "decode -o y.safetensors")).run(tmp, repeat, "tensorjson decode -o y.safetensors")
    py_enc = py_dec = None
    if python:
        want = safetensors_arrays(st)
        py_enc = Op([*me, "safetensors_encode", str(st), str(py_js)], before=unlink(py_js),
                    verify=lambda: same_arrays(native_arrays(py_js), want, "Python encode")
                    ).run(tmp, repeat, "Python safetensors encode")
        py_dec = Op([*me, "safetensors_decode", str(js), str(py_st)], before=unlink(py_st),
                    verify=lambda: same_arrays(safetensors_arrays(py_st), want,
                                               "Python decode of tensorjson's JSON")
                    ).run(tmp, repeat, "Python safetensors decode")
        del want
    rows.append(Row(f"safetensors → JSON ({tag})", "`base64 -w0`", enc, ref_enc, py_enc,
                    TARGET_RATIO))
    rows.append(Row(f"JSON → safetensors ({tag})", "`base64 -d`", dec, ref_dec, py_dec,
                    TARGET_RATIO))
    clear(d, keep=npz)

    # Row: .npz (members NAME.npy, JSON items NAME).
    read_why, write_why = npz_why
    if read_why:
        notes.append(f".npz ({tag}): {read_why}")
        return rows, notes
    ref_enc, ref_dec = refs(npz)
    want = npz_arrays(npz)
    if [n for n, _ in want] != names:
        raise BenchError(f"numpy.savez named the members {[n for n, _ in want][:3]}...")
    enc = Op([tj, "encode", str(npz), "-o", str(js)], before=unlink(js),
             verify=check_tj_json).run(tmp, repeat, "tensorjson encode x.npz")
    dec = None
    if write_why:
        notes.append(f"JSON → .npz ({tag}): {write_why}")
    else:
        dec = Op([tj, "decode", str(js), "-o", str(y_npz)], before=unlink(y_npz),
                 verify=lambda: same_arrays(npz_arrays(y_npz), want, "decode -o y.npz")
                 ).run(tmp, repeat, "tensorjson decode -o y.npz")
    py_enc = py_dec = None
    if python:
        py_enc = Op([*me, "npz_encode", str(npz), str(py_js)], before=unlink(py_js),
                    verify=lambda: same_arrays(json_numpy_arrays(py_js), want, "Python encode")
                    ).run(tmp, repeat, "Python npz encode")
        py_dec = Op([*me, "npz_decode", str(py_js), str(py_npz)], before=unlink(py_npz),
                    verify=lambda: same_arrays(npz_arrays(py_npz), want, "Python decode")
                    ).run(tmp, repeat, "Python npz decode")
    rows.append(Row(f"npz → JSON ({tag})", "`base64 -w0`", enc, ref_enc, py_enc, TARGET_RATIO))
    if dec:
        rows.append(Row(f"JSON → npz ({tag})", "`base64 -d`", dec, ref_dec, py_dec,
                        TARGET_RATIO))
    clear(d)
    return rows, notes


def small_rows(d: Path, tmp: Path, tj: str, vpy: str, n: int, repeat: int) -> list:
    """Row 3: n small .npy files -> JSON Lines -> a directory of .npy files."""
    log(f"== {n} small arrays: making inputs")
    src, files = make_small(d, n)
    argv_len = sum(len(str(p)) + 1 for p in files)
    if argv_len > os.sysconf("SC_ARG_MAX") // 2:
        raise BenchError(f"{n} paths take {argv_len} bytes of arguments; use fewer --small")
    # The coreutils reference: the same .npy bytes as one file, so the ratio shows what
    # handling n files and n JSON items costs over the bytes alone.
    cat, cat64 = d / "all.npy-concat", d / "all.b64"
    with open(cat, "wb") as f:
        for p in files:
            f.write(p.read_bytes())
    b64_file(cat, cat64)
    out = d / "out"
    ref_enc = Op(["base64", "-w0", str(cat)], stdout=out,
                 verify=lambda: same_file(out, cat64, "base64 -w0")
                 ).run(tmp, repeat, "base64 -w0 (files concatenated)")
    ref_dec = Op(["base64", "-d", str(cat64)], stdout=out,
                 verify=lambda: same_file(out, cat, "base64 -d")).run(tmp, repeat, "base64 -d")

    jl, first, py_jl, odir, py_odir = (d / "x.jsonl", d / "first.jsonl", d / "py.jsonl",
                                       d / "outdir", d / "py-outdir")

    def check_tj_jsonl():
        if first.exists():
            same_file(jl, first, "tensorjson encode --lines (against its first run)")
        else:
            shutil.copyfile(jl, first)

    me = [vpy, str(Path(__file__).resolve()), "--python-way"]
    enc = Op([tj, "encode", "--lines", *map(str, files), "-o", str(jl)], before=unlink(jl),
             verify=check_tj_jsonl).run(tmp, repeat, "tensorjson encode --lines")
    dec = Op([tj, "decode", str(jl), "-o", f"{odir}/"], before=move_aside(odir),
             verify=lambda: same_dirs(odir, files, "decode -o DIR/")
             ).run(tmp, repeat, "tensorjson decode -o DIR/")
    import numpy as np
    want = [(p.stem, np.load(p)) for p in files]
    py_enc = Op([*me, "lines_encode", str(src), str(py_jl)], before=unlink(py_jl),
                verify=lambda: same_arrays(lines_arrays(py_jl), want, "Python encode")
                ).run(tmp, repeat, "Python loop encode")
    py_dec = Op([*me, "lines_decode", str(jl), str(py_odir)], before=move_aside(py_odir),
                verify=lambda: same_dirs(py_odir, files, "Python decode of tensorjson's JSONL")
                ).run(tmp, repeat, "Python loop decode")
    clear(d)
    rows = [Row(f"{n} × .npy (16,16) f32 → JSON Lines", "`base64 -w0` of the files joined",
                enc, ref_enc, py_enc, None),
            Row(f"JSON Lines → {n} × .npy in DIR/", "`base64 -d` of that", dec, ref_dec,
                py_dec, None)]
    return rows


# --------------------------------------------------------------------------------------------
# Report


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def machine(tj: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown CPU")
    mem = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo")
                if line.startswith("MemTotal:")), 0)
    ver = subprocess.run([tj, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return (f"{cpu}, {os.cpu_count()} cores, {mem} MiB RAM; {ver} (tree "
            f"{git.stdout.strip() or '?'}); numpy {__import__('numpy').__version__}")


def report(rows: list, notes: list, info: str, load: tuple, repeat: int) -> str:
    L = [f"Machine: {info}", f"Load average: {load[0]} before, {load[1]} after",
         f"Best of {repeat} runs (wall s); peak RSS = largest `ru_maxrss` (GNU time %M); "
         "every output verified bit-exact.", "",
         "| row | tensorjson (s) | reference | reference (s) | ratio | tensorjson peak RSS "
         "(MiB) | Python (s) | Python peak RSS (MiB) | tensorjson / Python |",
         "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        py = (f"{r.py.best:.3f} | {r.py.peak:.0f} | {r.tj.best / r.py.best:.2f}x" if r.py
              else "— | — | —")
        L.append(f"| {r.label} | {r.tj.best:.3f} | {r.ref_label} | {r.ref.best:.3f} | "
                 f"{r.ratio:.2f}x | {r.tj.peak:.1f} | {py} |")
    L += [""] + [f"- {n}" for n in notes]
    L += ["", "Targets (issue 11 item 5):", ""]
    for r in rows:
        if r.target_ratio:
            ok = "met" if r.ratio <= r.target_ratio else "NOT met"
            L.append(f"- [{ok}] {r.label}: ≤ {r.target_ratio}x {r.ref_label}: {r.ratio:.2f}x")
    worst = max(rows, key=lambda r: r.tj.peak)
    over = [r for r in rows if r.tj.peak >= TARGET_RSS_MIB]
    L.append(f"- [{'NOT met' if over else 'met'}] tensorjson peak RSS < {TARGET_RSS_MIB:.0f} "
             f"MiB in every row: largest {worst.tj.peak:.1f} MiB ({worst.label})"
             + ("; over: " + ", ".join(f"{r.label} {r.tj.peak:.1f}" for r in over)
                if over else ""))
    return "\n".join(L)


def main(argv: list) -> int:
    p = argparse.ArgumentParser(prog="bench/bundles.py", description=__doc__.split("\n")[0])
    p.add_argument("--binary", metavar="PATH", help="tensorjson to measure (default: build)")
    p.add_argument("--size-mib", type=int, default=256, help="bundle size (default 256)")
    p.add_argument("--tensors", type=int, default=16, help="tensors in it (default 16)")
    p.add_argument("--small", type=int, default=10000, help="small arrays (default 10000)")
    p.add_argument("--big", action="store_true",
                   help="also a 1 GiB bundle of 64 tensors, tensorjson only (~8 GiB of disk)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 16 MiB and 1000 small arrays (overrides both)")
    p.add_argument("--repeat", type=int, default=3, help="runs per command (default 3)")
    a = p.parse_args(argv)
    if a.quick:
        a.size_mib, a.small = 16, 1000
    if min(a.size_mib, a.tensors, a.small, a.repeat) < 1 or \
            (a.size_mib * MiB // 4) % a.tensors:
        p.error("sizes must be positive and --size-mib of float32 must split into --tensors")

    vpy = venv_python()
    reexec_under(vpy, ("json_numpy", "numpy", "safetensors.numpy"))
    tj = str(Path(a.binary).resolve()) if a.binary else build_binary()
    for tool in (TIME, "base64"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found (GNU time measures peak RSS)")
    tmp = Path(tempfile.mkdtemp(prefix="tensorjson-bundles-"))  # under $TMPDIR
    log(f"== working in {tmp}")
    try:
        d = tmp / "data"
        d.mkdir()
        info, load0 = machine(tj), loadavg()
        npz_why = probe_npz(tmp, tj)
        rows, notes = bundle_rows(d, tmp, tj, vpy, a.size_mib, a.tensors, a.repeat, True,
                                  npz_why)
        rows += small_rows(d, tmp, tj, vpy, a.small, a.repeat)
        if a.big:
            big_rows, big_notes = bundle_rows(d, tmp, tj, vpy, 1024, 64, a.repeat, False,
                                              npz_why)
            rows += big_rows
            notes += big_notes
        print(report(rows, notes, info, (load0, loadavg()), a.repeat))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--python-way"]:
        PYTHON_WAY[sys.argv[2]](*sys.argv[3:])
        sys.exit(0)
    run_main(main)
