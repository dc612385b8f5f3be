"""The output's own checks: a chunk read back must hold the bytes written, and float16 output
refuses values beyond its range, whether the block is scanned here or checked on the device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.transform.convert.helpers import write_level3
from transform.convert.output import ChunkMismatch, OutputFile, create_output, same_bytes

GENES = [f"G{i}" for i in range(37)]  # 74-byte float16 profiles: not a whole number of words


@pytest.fixture
def output(tmp_path: Path) -> OutputFile:
    source = write_level3(tmp_path / "level3.gctx", n_profiles=20)
    path = tmp_path / "out.gctx"
    create_output(path, source=source, n_profiles=20, genes=GENES, dtype="float16", name="out")
    opened = OutputFile(path)
    yield opened
    opened.close()


def block(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, len(GENES))).astype(np.float16)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 4099])
def test_same_bytes_finds_any_differing_byte(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert same_bytes(data, data.tobytes())
    assert not same_bytes(data, data.tobytes() + b"\0")
    for at in {0, size // 2, size - 1} if size else ():
        changed = data.copy()
        changed[at] ^= 1
        assert not same_bytes(changed, data.tobytes()), at


def test_a_chunk_read_back_must_hold_the_bytes_written(output: OutputFile) -> None:
    written = block(5)
    output.write(3, written)
    digest = output.checksum(3, 8, expected=written)
    assert digest == output.checksum(3, 8)
    for row, column in ((0, 0), (4, len(GENES) - 1)):  # the first word, the last (partial) one
        other = written.copy()
        other[row, column] = np.float16(2.5)
        with pytest.raises(ChunkMismatch, match="read back differ"):
            output.checksum(3, 8, expected=other)


def test_float16_output_refuses_infinite_values(output: OutputFile) -> None:
    bad = block(2)
    bad[1, 4] = np.inf
    with pytest.raises(ValueError, match="beyond the float16 range"):
        output.write(0, bad)
    with pytest.raises(ValueError, match="beyond the float16 range"):
        output.write(0, block(2), infinite=True)  # as the device found it
    output.write(0, block(2), infinite=False)  # the device found none: not scanned again
    assert output.checksum(0, 2, expected=block(2))
