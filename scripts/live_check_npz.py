#!/usr/bin/env python3
"""The numpy side of the .npz live check, for the CLI's live check to call both ways:

    arrays = write_fixtures(scratch)          # .npz files numpy wrote, for tensorjson to read
    check_npz(path, arrays["savez"])          # numpy reads what tensorjson wrote, bit-exact

Run alone (`python scripts/live_check_npz.py DIR`), it writes the fixtures into DIR and checks
them with check_npz, which checks this script itself.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np


def arrays() -> dict[str, np.ndarray]:
    """Members with the dtypes, shapes and layouts that go wrong first."""
    return {
        "f64": np.array([[0.0, -0.0, np.nan], [np.inf, -np.inf, 5e-324]], dtype="<f8"),
        "i32_be": np.arange(-3, 3, dtype=">i4"),
        "f32_fortran": np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)),
        "scalar": np.array(2.5, dtype="<f8"),
        "empty": np.zeros((0, 3), dtype="<i2"),
        "flags": np.array([True, False, True]),
        "c64": np.array([1 + 2j, -1j], dtype="<c8"),
        "odd name.ü": np.arange(3, dtype="<u2"),
    }


def write_fixtures(directory: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Writes `savez.npz` (stored) and `savez_compressed.npz` (deflated) into `directory`;
    returns each file's stem with the arrays it holds, in order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    members = arrays()
    np.savez(directory / "savez.npz", **members)
    np.savez_compressed(directory / "savez_compressed.npz", **members)
    return {"savez": members, "savez_compressed": members}


def little_c(arr: np.ndarray) -> np.ndarray:
    """The array as tensorjson's model holds it: little-endian, C order."""
    return arr.astype(arr.dtype.newbyteorder("<"), order="C")


def check_npz(path: str | Path, expected: dict[str, np.ndarray]) -> None:
    """Asserts that numpy.load gives exactly `expected`: the same names in the same order, and
    arrays of the same dtype, shape and bytes (NaN payloads and -0.0 included), byte order and
    memory order aside (tensorjson writes little-endian C order; numpy may not)."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None, f"{path}: a member's CRC-32 is wrong"
    with np.load(path, allow_pickle=False) as loaded:
        assert list(loaded.files) == list(expected), f"{path}: {loaded.files} != {list(expected)}"
        for name, want in expected.items():
            got, want = little_c(loaded[name]), little_c(want)
            assert got.dtype == want.dtype, f"{path}: {name}: dtype {got.dtype} != {want.dtype}"
            assert got.shape == want.shape, f"{path}: {name}: shape {got.shape} != {want.shape}"
            assert got.tobytes() == want.tobytes(), f"{path}: {name}: bytes differ"


if __name__ == "__main__":
    written = write_fixtures(sys.argv[1])
    for stem, members in written.items():
        check_npz(Path(sys.argv[1]) / f"{stem}.npz", members)
    print(f"live_check_npz: {len(written)} archives written and checked in {sys.argv[1]}")
