"""The output GCTX, created whole before any chunk is computed and then filled in place.

The file is complete from the start: CMap's layout (`transform.io.gctx`), the output genes as row
ids, the input's column metadata copied dataset by dataset (types, -666 and all), and the matrix
`/0/DATA/0/matrix` (n_profiles, n_genes) allocated contiguous and uncompressed without being
written (a sparse file until filled). Its byte offset is fixed, so a chunk of profiles is one
contiguous byte range: written with pwrite and fdatasync, read back and hashed, by any process or
host that sees the file. Every byte of the profiles goes to disk once; no merge copies them again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from transform.io.errors import GctxFormatError
from transform.io.files import write_at
from transform.io.gctx import COL_META, MATRIX, ROW_META, VERSION
from transform.io.hdf5 import META_CHUNK, META_GZIP, append_field, open_hdf5

COPY_BLOCK = 2**18  # metadata values copied at once
READ_BLOCK = 2**26  # bytes read back at once when hashing a chunk


class ChunkMismatch(OSError):
    """The bytes read back from the output are not the bytes written (or recorded)."""


def create_output(
    path: Path,
    *,
    source: Path,
    n_profiles: int,
    genes: list[str],
    dtype: str,
    name: str,
    col_meta: pd.DataFrame | None = None,
) -> None:
    """Write the complete, unfilled output GCTX at `path` (via `<path>.tmp` and a rename).

    source: the input GCTX whose first n_profiles columns' metadata are copied, unless
    `col_meta` (indexed by column id, the profile table's rows of those columns) is given;
    genes: the row ids; dtype: float32 or float16; name: the final file name (`src`).
    """
    temp = path.with_name(path.name + ".tmp")
    with h5py.File(temp, "w") as file:
        file.attrs["version"] = np.bytes_(VERSION)
        file.attrs["src"] = np.bytes_(name.encode("utf-8"))
        rows = file.create_group(ROW_META, track_order=True)
        append_field(rows, "id", pd.Series(genes, dtype=object))
        cols = file.create_group(COL_META, track_order=True)
        if col_meta is None:
            _copy_column_meta(source, cols, n_profiles)
        else:
            _write_column_meta(col_meta.iloc[:n_profiles], cols)
        file.create_dataset(
            MATRIX,
            shape=(n_profiles, len(genes)),
            dtype=np.dtype(dtype).newbyteorder("<"),
            dcpl=_allocated_unfilled(),
        )
    os.replace(temp, path)


def _allocated_unfilled() -> h5py.h5p.PropDCID:
    """Contiguous storage allocated when the dataset is made, never written with fill values."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    return dcpl


def _copy_column_meta(source: Path, target: h5py.Group, n: int) -> None:
    """Each column metadata dataset of `source` (id first), its first n values as stored."""
    with open_hdf5(source, GctxFormatError) as file:
        group = file[COL_META]
        for name in ["id", *(name for name in group if name != "id")]:
            stored = group[name]
            copy = target.create_dataset(
                name,
                shape=(n,),
                maxshape=(None,),
                dtype=stored.dtype,
                chunks=(META_CHUNK,),
                compression="gzip",
                compression_opts=META_GZIP,
            )
            for start in range(0, n, COPY_BLOCK):
                stop = min(start + COPY_BLOCK, n)
                copy[start:stop] = stored[start:stop]


def _write_column_meta(col_meta: pd.DataFrame, target: h5py.Group) -> None:
    """The profile table's fields as column metadata (id first), in blocks of values."""
    columns = {"id": pd.Series(col_meta.index.astype(str), dtype=object)}
    columns.update({str(name): col_meta[name].reset_index(drop=True) for name in col_meta})
    for name, values in columns.items():
        for start in range(0, len(values), COPY_BLOCK):
            append_field(target, name, values.iloc[start : start + COPY_BLOCK])


class OutputFile:
    """The matrix of a created output, written and read back by byte range (profiles x genes)."""

    def __init__(self, path: Path) -> None:
        with open_hdf5(path, GctxFormatError) as file:
            matrix = file[MATRIX]
            self.offset = matrix.id.get_offset()
            self.shape: tuple[int, int] = matrix.shape
            self.dtype = matrix.dtype
            contiguous = matrix.chunks is None
        if self.offset is None or not contiguous:
            raise GctxFormatError(f"{path}: the matrix is not allocated contiguous storage")
        self.path = path
        self.profile_bytes = self.shape[1] * self.dtype.itemsize
        self.fd = os.open(path, os.O_RDWR)

    def close(self) -> None:
        os.close(self.fd)

    def write(self, start: int, block: np.ndarray, infinite: bool | None = None) -> None:
        """Store (k, n_genes) profiles from profile `start` on and flush them to the disk.

        infinite: whether the block holds inf, when the caller knows (the GPU checks it on the
        device); None scans the block here (float16 only)."""
        if block.dtype != self.dtype or block.shape[1] != self.shape[1]:
            raise ValueError(f"a {block.dtype} block {block.shape} for a {self.dtype} matrix")
        if infinite is None:
            infinite = self.dtype == np.float16 and bool(np.isinf(block).any())
        if infinite:
            raise ValueError("profiles hold values beyond the float16 range; convert to float32")
        data = np.ascontiguousarray(block).data.cast("B")  # .data: the array's memoryview
        write_at(self.fd, data, self.offset + start * self.profile_bytes)
        os.fdatasync(self.fd)

    def checksum(self, start: int, stop: int, expected: np.ndarray | None = None) -> str:
        """SHA-256 of the stored bytes of profiles start..stop-1, read back from the file.

        expected: the block that was written there; ChunkMismatch if the file holds other bytes.
        """
        digest = hashlib.sha256()
        wanted = None
        if expected is not None:
            wanted = np.ascontiguousarray(expected).reshape(-1).view(np.uint8)
        at, end = self.offset + start * self.profile_bytes, self.offset + stop * self.profile_bytes
        done = 0
        while at < end:
            piece = os.pread(self.fd, min(READ_BLOCK, end - at), at)
            if not piece:
                raise ChunkMismatch(f"{self.path}: ends before profile {stop}")
            if wanted is not None and not same_bytes(wanted[done : done + len(piece)], piece):
                raise ChunkMismatch(f"{self.path}: profiles {start}..{stop - 1} read back differ")
            digest.update(piece)
            at, done = at + len(piece), done + len(piece)
        return digest.hexdigest()


def same_bytes(wanted: np.ndarray, piece: bytes) -> bool:
    """wanted (uint8) holds the bytes of piece: compared as 8-byte words, outside the GIL."""
    if wanted.size != len(piece):
        return False
    words = len(piece) // 8 * 8
    stored = np.frombuffer(piece, np.uint64, words // 8)
    tail_same = wanted[words:].tobytes() == piece[words:]
    return tail_same and np.array_equal(wanted[:words].view(np.uint64), stored)
