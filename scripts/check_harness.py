"""What the two live checks (live_check.py, live_check_dialects.py) share: running the
tensorjson binary, running named checks in scratch directories, and the command line."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class CheckFailed(Exception):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


class Tool:
    def __init__(self, binary: Path, timeout: float):
        self.binary = binary
        self.timeout = timeout

    def raw(self, *args, stdin: bytes | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.binary), *map(str, args)]
        try:
            return subprocess.run(cmd, input=stdin if stdin is not None else b"",
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=self.timeout, cwd=cwd)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"timed out after {self.timeout}s: tensorjson {' '.join(cmd[1:])}")

    def run(self, *args, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
        proc = self.raw(*args, stdin=stdin, cwd=cwd)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = " | ".join(err[-3:]) if err else "(no stderr)"
            raise CheckFailed(f"exit {proc.returncode} for `tensorjson {' '.join(map(str, args))}`: {tail}")
        return proc.stdout

    def refuse(self, *args, stdin: bytes | None = None, phrase: str | None = None,
               out: Path | None = None, code: int = 1) -> str:
        """The binary must fail with exit `code` (1, or 2 for bad usage), an `error:` message,
        and no output file."""
        proc = self.raw(*args, stdin=stdin)
        err = proc.stderr.decode("utf-8", "replace")
        expect(proc.returncode == code,
               f"`tensorjson {' '.join(map(str, args))}` exited {proc.returncode}, want {code}; "
               f"stderr: {err.strip()[:200]!r}")
        expect(err.startswith("error:"), f"stderr does not start with 'error:': {err[:120]!r}")
        if phrase is not None:
            # the message quotes file names: a phrase found only there does not count
            msg = err
            for a in args:
                if isinstance(a, Path) or "/" in str(a) or "." in str(a):
                    msg = msg.replace(str(a), "").replace(Path(str(a)).name, "")
            expect(phrase.lower() in msg.lower(), f"error message lacks {phrase!r}: {err.strip()[:200]!r}")
        if out is not None:
            expect(not out.exists(), f"{out.name} was written although the command failed")
        return err


def canonical(arr) -> np.ndarray:
    """Little-endian C-order copy; keeps 0-d shape (np.ascontiguousarray doesn't)."""
    arr = np.asarray(arr)
    return arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=True)


def le_bytes(arr) -> bytes:
    return canonical(arr).tobytes()


def same_array(got, want, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    expect(got.dtype.name == want.dtype.name, f"{what}: dtype {got.dtype.name} != {want.dtype.name}")
    expect(tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}")
    if le_bytes(got) != le_bytes(want):
        g = np.frombuffer(le_bytes(got), np.uint8)
        w = np.frombuffer(le_bytes(want), np.uint8)
        first = int(np.flatnonzero(g != w)[0]) if g.size == w.size else -1
        isz = want.dtype.itemsize
        at = f"element {first // isz}" if first >= 0 else "?"
        raise CheckFailed(f"{what}: bytes differ (first differing byte {first}, {at}: "
                          f"got {got.ravel()[first // isz] if first >= 0 else '?'!r}, "
                          f"want {want.ravel()[first // isz] if first >= 0 else '?'!r})")


def written(path: Path) -> bytes:
    expect(path.is_file(), f"{path.name} was not written")
    return path.read_bytes()


def describe(arr) -> str:
    arr = np.asarray(arr)
    order = "F" if (arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous) else "C"
    bo = {"<": "le", ">": "be", "|": "--", "=": "le" if sys.byteorder == "little" else "be"}[arr.dtype.str[0]]
    return f"{arr.dtype.name} {bo} {order} {tuple(arr.shape)}"


class Runner:
    """Runs named checks, each in a scratch directory of its own, and counts them."""

    def __init__(self, tool: Tool, tmp: Path, only: list[str], skip: list[str]):
        self.tool = tool
        self.tmp = tmp
        self.only = only
        self.skip = skip
        self.passed = 0
        self.failed = 0
        self.n = 0

    def check(self, name: str, fn) -> None:
        if self.only and not any(s in name for s in self.only):
            return
        if any(s in name for s in self.skip):
            return
        self.n += 1
        work = self.tmp / f"c{self.n:04d}"
        work.mkdir()
        try:
            fn(work)
        except CheckFailed as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # a bug in the check or an unreadable output
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}{where(e)}", flush=True)
        else:
            self.passed += 1
            print(f"PASS {name}", flush=True)


def where(error: Exception) -> str:
    """The innermost line of a live-check script (not this file) that the error came through."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if Path(f.filename).resolve().parent == HERE and Path(f.filename).resolve() != Path(__file__).resolve()]
    return f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""


def main(argv: list[str], *, name: str, description: str, fixtures_help: str, runner_class,
         banner, run) -> int:
    """Parses the command line, then `run(runner)` and, with --fixtures, the fixture checks.
    `banner()` says what the checks run against."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("binary", help="path to the tensorjson binary (debug or release)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per invocation (default 60)")
    ap.add_argument("-k", "--only", action="append", default=[], metavar="SUBSTR",
                    help="run only checks whose name contains SUBSTR (repeatable)")
    ap.add_argument("--skip", action="append", default=[], metavar="SUBSTR",
                    help="skip checks whose name contains SUBSTR (repeatable)")
    ap.add_argument("--fixtures", nargs="?", const=str(HERE.parent / "fixtures"),
                    metavar="DIR", help=f"{fixtures_help} (default DIR: the repo's fixtures/)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)

    binary = Path(args.binary).expanduser()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        what = "is not executable" if binary.is_file() else "does not exist"
        print(f"{name}: tensorjson binary {binary} {what}; build it first "
              f"(cargo build --release) and pass its path", file=sys.stderr)
        print("FAIL binary present")
        print("0 passed, 1 failed")
        return 1
    tool = Tool(binary.resolve(), args.timeout)

    print(f"{name}: {binary.resolve()} with {banner()}", flush=True)
    tmpdir = tempfile.mkdtemp(prefix=f"tj-{name}-")
    runner = runner_class(tool, Path(tmpdir), args.only, args.skip)
    try:
        run(runner)
        if args.fixtures:
            runner.fixture_checks(Path(args.fixtures))
    finally:
        if args.keep:
            print(f"{name}: kept {tmpdir}", file=sys.stderr)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    print(f"{runner.passed} passed, {runner.failed} failed")
    return 1 if runner.failed or runner.passed == 0 else 0
