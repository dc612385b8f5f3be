"""Reading the 978 landmark rows of a Level 3 GCTX as CMap publishes it, against the disk.

The input side of converting ~3 million L1000 profiles. CMap's Level 3 files (LINCS 2020
`level3_beta_all_n3026460x12328.gctx`, GEO GSE92742 `..._Level3_INF_mlr12k_n1319138x12328.gctx`)
hold /0/DATA/0/matrix stored (n_samples, 12328) float32, /0/META/ROW/id the Entrez ids (byte
strings), /0/META/COL/id the sample ids, and no other metadata. The 12,328 genes and the 978
landmarks among them come from the CLUE gene table (search/reference/genes/
clue_gene_space_2019-07-02.tsv.gz: Type != "not inferred", Type == "landmark").

Chunk layouts (--layouts), shapes of the stored (samples, genes) matrix:
- cmap (262, 1000): the shape of CMap's writers. cmapR `write_gctx` (R/io.R) chunks the genes x
  samples matrix as row_chunk = min(n_genes, 1000), col_chunk = min(max_chunk_kb * elem_per_kb
  %/% row_chunk, n_samples), max_chunk_kb = 1024 and elem_per_kb = max_chunk_kb * 8 / 32 = 256
  for 4-byte values: 1000 genes x 262 samples (1,048,000 bytes), which rhdf5 stores as (262, 1000)
  on the (samples, genes) matrix. cmapPy's `write_gctx.set_data_matrix_chunk_size(df_shape,
  max_chunk_kb=1024, elem_per_kb=256)` computes the same (1000, 262) "for compatibility with cmapM
  and cmapR" (its own write, as of cmapPy's 2022 master, computes it but does not pass it on);
- sample (1, 12328): one sample per chunk (49,312 bytes);
- ours (21, 12328): this project's writer, whole samples in about 1 MiB
  (`transform.io.hdf5.samples_per_chunk`, 1,035,552 bytes).

Row orders, both read from the same file of each layout (what is read depends only on where the
landmarks are): sorted, the 12,328 Entrez ids sorted as text, as CMap's files often are (the GEO
gene_info order is not assumed), which spreads the landmarks over all 13 stretches of 1,000 genes;
landmarks first, the landmarks in rows 0..977.

Per layout, in one run, one file on disk at a time:
1. a file of --profiles profiles (default 200,000: 9.9 GB), seeded uniform values in 4..15,
   written with h5py in blocks of whole chunk rows (h5py's default file format, as CMap's files);
2. the disk's read bandwidth on that file: fsync, the file dropped from the page cache
   (posix_fadvise DONTNEED), read in 64 MiB blocks by one stream (os.readv) and by STREAMS threads
   (os.preadv, that many reads in flight); before and after the reads, the highest of the four
   used for the ratios;
3. per row order and strategy, --repeats times (the fastest kept), the file dropped from the page
   cache again, then the landmark rows of every profile read in blocks of --block profiles (8,192,
   the conversion's chunk) into a reused (block, 978) float32 array:
   - whole samples: how InputReader (transform/convert/chunks.py) read before it used
     read_rows_of_columns: read_direct of (block, 12328) into a reused buffer, then np.take;
   - chunk columns: `transform.io.hdf5.read_rows_of_columns`, which reads for each run of adjacent
     chunk columns holding landmarks only the span from its first to its last landmark, by windows
     of at most 64 MiB that end on chunk boundaries; chunks holding no landmark are never read;
   - InputReader: the conversion's reader as it is, chunk columns plus `ReadAhead` hints
     (posix_fadvise WILLNEED from a thread of their own) for the current and the next block.
   Reported: profiles/s; file MB/s (the file's bytes over the time, comparable to the disk's);
   the bytes of the chunks the strategy needs and the bytes the disk really read
   (/proc/self/io read_bytes), each over the file's size; their rates over the disk bandwidth;
   peak RSS growth (VmHWM after resetting it through /proc/self/clear_refs, minus VmRSS before).
   The strategies' sums of the values read must agree.
Files go to a temporary folder under --dir (default var/bench-level3, git-ignored), deleted after
each layout. Run: python -m benchmarks.level3_read [--profiles 200000] [--dir D] [--layouts ...]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from benchmarks.common import machine, markdown
from transform.convert.chunks import InputReader
from transform.convert.job import Chunk
from transform.io.chunked import read_rows_of_columns
from transform.io.hdf5 import samples_per_chunk

ROOT = Path(__file__).resolve().parents[1]
GENE_TABLE = ROOT / "search/reference/genes/clue_gene_space_2019-07-02.tsv.gz"
MATRIX = "0/DATA/0/matrix"
DTYPE = np.dtype(np.float32)
N_GENES = 12328
READ_BYTES = 64 * 2**20  # bytes per read of the bandwidth measure
STREAMS = 4  # threads of the bandwidth measure with reads in flight side by side


def cmap_chunks(n_genes: int, n_samples: int, max_chunk_kb: int = 1024) -> tuple[int, int]:
    """CMap's chunk shape (cmapR write_gctx, cmapPy set_data_matrix_chunk_size) for float32,
    as (samples, genes) on the stored matrix."""
    elem_per_kb = max_chunk_kb * 8 // 32
    genes = min(n_genes, 1000)
    samples = min(max_chunk_kb * elem_per_kb // genes, n_samples)
    return samples, genes


def layouts(n_profiles: int) -> dict[str, tuple[int, int]]:
    return {
        "cmap": cmap_chunks(N_GENES, n_profiles),
        "sample": (1, N_GENES),
        "ours": (samples_per_chunk(N_GENES, DTYPE), N_GENES),
    }


def gene_table() -> pd.DataFrame:
    """The 12,328 genes of the L1000 space (clue.io gene space): Entrez ID (text), Symbol,
    Name, Type (landmark, best inferred, inferred)."""
    table = pd.read_csv(GENE_TABLE, sep="\t", dtype={"Entrez ID": str}, keep_default_na=False)
    return table[table["Type"] != "not inferred"]


def gene_space() -> tuple[list[str], np.ndarray]:
    """The 12,328 Entrez ids sorted as text, and the landmarks' positions among them."""
    genes = gene_table()
    ids = sorted(genes["Entrez ID"])
    landmarks = set(genes.loc[genes["Type"] == "landmark", "Entrez ID"])
    positions = np.array([i for i, gene in enumerate(ids) if gene in landmarks], dtype=np.int64)
    if len(ids) != N_GENES or len(positions) != 978:
        raise SystemExit(f"{GENE_TABLE}: {len(ids)} genes, {len(positions)} landmarks")
    return ids, positions


def write_level3(
    path: Path, ids: list[str], n_profiles: int, chunks: tuple[int, int], seed: int
) -> None:
    """A Level 3 GCTX as CMap publishes it, written in blocks of whole chunk rows."""
    rng = np.random.default_rng(seed)
    rows = chunks[0] * max(1, 8192 // chunks[0])
    buffer = np.empty((min(rows, n_profiles), len(ids)), dtype=DTYPE)
    with h5py.File(path, "w") as file:
        file.attrs["version"] = np.bytes_("GCTX1.0")
        file.attrs["src"] = np.bytes_(path.name)
        matrix = file.create_dataset(MATRIX, (n_profiles, len(ids)), dtype=DTYPE, chunks=chunks)
        file.create_dataset("0/META/ROW/id", data=np.array(ids, dtype="S"))
        sample_ids = [f"REP.B{i // 384:05d}_A375_24H:{i % 384:03d}" for i in range(n_profiles)]
        file.create_dataset("0/META/COL/id", data=np.array(sample_ids, dtype="S"))
        for start in range(0, n_profiles, rows):
            block = buffer[: min(rows, n_profiles - start)]
            rng.random(dtype=np.float32, out=block)
            block *= 11
            block += 4
            matrix[start : start + len(block)] = block


def drop_cache(path: Path) -> None:
    """Flush the file and drop it from the page cache, so that the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def disk_read_bytes() -> int:
    """Bytes this process caused to be fetched from storage (/proc/self/io read_bytes)."""
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no read_bytes")


def disk_bandwidth(path: Path, streams: int = 1) -> tuple[float, int]:
    """(bytes/s, bytes the disk read) of reading the file, dropped from the page cache first:
    READ_BYTES blocks in order by one thread (os.readv), or taken in turn by `streams` threads
    (os.preadv), which keeps that many reads in flight."""
    drop_cache(path)
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    local = threading.local()

    def read(offset: int) -> int:
        if not hasattr(local, "buffer"):
            local.buffer = memoryview(bytearray(READ_BYTES))
        done = 0
        while done < min(READ_BYTES, size - offset):
            count = os.preadv(fd, [local.buffer[done:]], offset + done)
            if not count:
                break
            done += count
        return done

    try:
        before, started = disk_read_bytes(), time.perf_counter()
        if streams == 1:
            buffer, total = memoryview(bytearray(READ_BYTES)), 0
            while count := os.readv(fd, [buffer]):
                total += count
        else:
            with ThreadPoolExecutor(streams) as pool:
                total = sum(pool.map(read, range(0, size, READ_BYTES)))
        seconds = time.perf_counter() - started
        return total / seconds, disk_read_bytes() - before
    finally:
        os.close(fd)


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0); returns the RSS in bytes.

    Memory freed by earlier measures goes back to the system first (malloc_trim), so that a
    measure's buffers count even where the allocator would have reused it.
    """
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return status_kb("VmRSS") * 1024


def whole_samples(matrix: h5py.Dataset, columns: np.ndarray, block: int) -> float:
    """InputReader's former way: whole samples into a reused buffer, then the landmark columns."""
    samples = np.empty((block, matrix.shape[1]), dtype=matrix.dtype)
    out = np.empty((block, len(columns)), dtype=np.float32)
    total = 0.0
    for start in range(0, matrix.shape[0], block):
        stop = min(start + block, matrix.shape[0])
        part = samples[: stop - start]
        matrix.read_direct(part, np.s_[start:stop], np.s_[0 : stop - start])
        np.take(part, columns, axis=1, out=out[: stop - start])
        total += float(out[: stop - start].sum(dtype=np.float64))
    return total


def chunk_columns(matrix: h5py.Dataset, columns: np.ndarray, block: int) -> float:
    """read_rows_of_columns: only the chunks holding landmark columns."""
    out = np.empty((block, len(columns)), dtype=np.float32)
    total = 0.0
    for start in range(0, matrix.shape[0], block):
        stop = min(start + block, matrix.shape[0])
        read_rows_of_columns(matrix, start, stop, columns, out[: stop - start])
        total += float(out[: stop - start].sum(dtype=np.float64))
    return total


def input_reader(path: Path, columns: np.ndarray, block: int) -> float:
    """The conversion's reader as it is: chunk columns with read-ahead hints (ReadAhead)."""
    with h5py.File(path, "r") as file:
        n_profiles = file[MATRIX].shape[0]
    reader = InputReader(str(path), columns, block)
    out = np.empty((block, len(columns)), dtype=np.float32)
    total = 0.0
    try:
        for index, start in enumerate(range(0, n_profiles, block)):
            chunk = Chunk(index, start, min(start + block, n_profiles))
            reader.read(chunk, out)
            total += float(out[: chunk.size].sum(dtype=np.float64))
    finally:
        reader.close()
    return total


STRATEGIES: dict[str, Callable[[h5py.Dataset, np.ndarray, int], float]] = {
    "whole samples": whole_samples,
    "chunk columns": chunk_columns,
}
WHOLE_FILE: dict[str, Callable[[Path, np.ndarray, int], float]] = {
    "InputReader (chunk columns + read-ahead)": input_reader,
}


def needed_bytes(
    shape: tuple[int, int], chunks: tuple[int, int], columns: np.ndarray, strategy: str
) -> int:
    """Bytes of the chunks a strategy must read (HDF5 reads whole chunks)."""
    height, width = chunks
    chunk_rows = math.ceil(shape[0] / height)
    chunk_cols = math.ceil(shape[1] / width)
    if strategy != "whole samples":
        chunk_cols = len(np.unique(columns // width))
    return chunk_rows * chunk_cols * height * width * DTYPE.itemsize


def measure_read(path: Path, columns: np.ndarray, strategy: str, block: int) -> dict[str, float]:
    drop_cache(path)
    rss = reset_peak_rss()
    before, started = disk_read_bytes(), time.perf_counter()
    if strategy in WHOLE_FILE:
        total = WHOLE_FILE[strategy](path, columns, block)
    else:
        with h5py.File(path, "r") as file:
            total = STRATEGIES[strategy](file[MATRIX], columns, block)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "disk_bytes": disk_read_bytes() - before,
        "rss_growth": status_kb("VmHWM") * 1024 - rss,
        "sum": total,
    }


def bandwidths(path: Path) -> list[tuple[float, int]]:
    """(bytes/s, bytes the disk read) by one stream, then by STREAMS."""
    return [disk_bandwidth(path, streams) for streams in (1, STREAMS)]


def run_layout(
    args: argparse.Namespace,
    folder: Path,
    name: str,
    chunks: tuple[int, int],
    ids: list[str],
    landmarks: np.ndarray,
) -> tuple[dict, list[dict]]:
    path = folder / f"level3-{name}.gctx"
    try:
        started = time.perf_counter()
        write_level3(path, ids, args.profiles, chunks, args.seed)
        drop_cache(path)
        write_s = time.perf_counter() - started
        size = path.stat().st_size
        print(f"{name} {chunks}: wrote {size / 1e9:.2f} GB in {write_s:.0f} s", file=sys.stderr)
        disk_reads = bandwidths(path)
        rows = []
        sums = {}
        for order, columns in (("sorted", landmarks), ("landmarks first", np.arange(978))):
            for strategy in [*STRATEGIES, *WHOLE_FILE]:
                runs = [
                    measure_read(path, columns, strategy, args.block) for _ in range(args.repeats)
                ]
                found = dict(min(runs, key=lambda run: run["seconds"]))
                found["rss_growth"] = max(run["rss_growth"] for run in runs)
                sums.setdefault(order, set()).update(run["sum"] for run in runs)
                times = [f"{run['seconds']:.1f}" for run in runs]
                print(
                    f"  {order}, {strategy}: "
                    f"{', '.join(times)} s, disk read "
                    f"{found['disk_bytes'] / 1e9:.2f} GB",
                    file=sys.stderr,
                )
                rows.append(
                    {
                        "order": order,
                        "strategy": strategy,
                        **found,
                        "needed": needed_bytes((args.profiles, N_GENES), chunks, columns, strategy),
                    }
                )
        disk_reads += bandwidths(path)
    finally:
        path.unlink(missing_ok=True)
    if any(len(values) != 1 for values in sums.values()):
        raise SystemExit(f"{name}: the strategies read different values: {sums}")
    bandwidth = max(rate for rate, _ in disk_reads)
    disk = {
        "layout": name,
        "chunks": chunks,
        "size": size,
        "write_s": write_s,
        "disk_reads": disk_reads,
        "bandwidth": bandwidth,
    }
    for row in rows:
        row.update(layout=name, chunks=chunks, size=size, bandwidth=bandwidth)
    return disk, rows


def table(rows: list[dict], n_profiles: int) -> list[dict[str, object]]:
    out = []
    for row in rows:
        seconds, size = row["seconds"], row["size"]
        out.append(
            {
                "chunks (samples, genes)": f"{row['layout']} {row['chunks']}",
                "row order": row["order"],
                "strategy": row["strategy"],
                "profiles/s": n_profiles / seconds,
                "file MB/s": size / seconds / 1e6,
                "chunks needed / file": row["needed"] / size,
                "disk read / file": row["disk_bytes"] / size,
                "file MB/s / disk MB/s": size / seconds / row["bandwidth"],
                "read MB/s / disk MB/s": row["disk_bytes"] / seconds / row["bandwidth"],
                "peak RSS growth (MB)": row["rss_growth"] / 1e6,
            }
        )
    return out


def disk_table(disks: list[dict], n_profiles: int) -> list[dict[str, object]]:
    return [
        {
            "chunks (samples, genes)": f"{disk['layout']} {disk['chunks']}",
            "file (GB)": disk["size"] / 1e9,
            "bytes per profile": disk["size"] / n_profiles,
            "written in (s)": disk["write_s"],
            f"disk MB/s: 1 stream, {STREAMS} (before the reads); same after": " / ".join(
                f"{rate / 1e6:,.0f}" for rate, _ in disk["disk_reads"]
            ),
            "disk MB/s used": disk["bandwidth"] / 1e6,
            "disk read during those / file": " / ".join(
                f"{read / disk['size']:.3f}" for _, read in disk["disk_reads"]
            ),
        }
        for disk in disks
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=200_000, help="profiles per file")
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT / "var" / "bench-level3",
        help="where the temporary folder of the files goes",
    )
    names = ["cmap", "sample", "ours"]
    parser.add_argument(
        "--layouts", nargs="+", default=names, choices=names, help="chunk layouts measured"
    )
    parser.add_argument("--block", type=int, default=8192, help="profiles read at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=2, help="reads per measure, the fastest kept"
    )
    args = parser.parse_args()
    ids, landmarks = gene_space()
    shapes = layouts(args.profiles)
    args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="level3-read-", dir=args.dir))
    disks, rows = [], []
    try:
        for name in args.layouts:
            disk, found = run_layout(args, folder, name, shapes[name], ids, landmarks)
            disks.append(disk)
            rows += found
    finally:
        shutil.rmtree(folder)
    print(
        f"Level 3 landmark reads on {machine()}: {args.profiles:,} profiles x {N_GENES:,} "
        f"genes float32 per file, the 978 landmarks read in blocks of {args.block:,} "
        "profiles\n"
    )
    print(markdown(disk_table(disks, args.profiles)))
    print()
    print(markdown(table(rows, args.profiles)))


if __name__ == "__main__":
    main()
