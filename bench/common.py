"""What the benchmark scripts (bench/run.py, bench/bundles.py) share: their failure, their log,
the release build they measure, and running under the project venv's python when the python
they were started with lacks the modules they measure against."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Set for the re-run, so that a venv that still lacks a module fails instead of re-running again.
REEXEC_ENV = "TENSORJSON_BENCH_REEXEC"


class BenchError(Exception):
    """A command failed or an output was wrong: the benchmark's results cannot be trusted."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def venv_python() -> str:
    """The project venv's python (created if missing) as scripts/python-venv.sh prints it."""
    r = subprocess.run(["bash", str(ROOT / "scripts" / "python-venv.sh")],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        raise BenchError(f"scripts/python-venv.sh failed (exit {r.returncode})")
    return r.stdout.strip().splitlines()[-1]


def reexec_under(vpy: str, modules: tuple[str, ...]) -> None:
    """Re-runs the script being run under the venv's python `vpy`, with the same arguments,
    unless the python running it can import every one of `modules`."""
    try:
        for module in modules:
            importlib.import_module(module)
        return
    except ImportError as error:
        missing = error.name
    if os.environ.get(REEXEC_ENV):
        raise BenchError(f"{missing} is missing even in the venv python {vpy}")
    log(f"{missing} not importable in {sys.executable}; re-running under {vpy}")
    os.environ[REEXEC_ENV] = "1"
    sys.stdout.flush()
    script = str(Path(sys.argv[0]).resolve())
    os.execv(vpy, [vpy, script, *sys.argv[1:]])


def build_binary() -> str:
    """Builds the release binary; the path cargo reports for it."""
    log("== cargo build --release")
    r = subprocess.run(["cargo", "build", "--release", "--bin", "tensorjson",
                        "--message-format=json-render-diagnostics"],
                       cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BenchError(f"cargo build --release failed (exit {r.returncode})")
    for line in reversed(r.stdout.splitlines()):
        msg = json.loads(line) if line.startswith("{") else {}
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "tensorjson":
            return msg["executable"]
    raise BenchError("cargo build --release did not report the tensorjson executable")


def run_main(main) -> None:
    """Exits with `main(argv)`'s status: 1 with the reason when a command failed or an output
    was wrong, 130 on ^C."""
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
