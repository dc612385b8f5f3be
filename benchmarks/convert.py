"""Profiles/s of `python -m transform convert` against the model's FLOP floor and the disk.

A generated Level 3 GCTX of --profiles profiles (default 200,000; random values over the model's
962 input genes, written in blocks with GctxWriter) and a random-weight bundle of the paper's sizes
(962 inputs, 23,614 outputs, extrapolator 2048-4096-8192; `transform.convert.synthetic`). Measured
in the same run, on this machine's CPU (and its GPU when torch sees one):
- matmul GFLOP/s (float32 GEMM of the model's layer sizes) and the model's FLOP floor: that rate
  over the FLOPs per profile counted from the layer sizes;
- model-only profiles/s: `ChunkModel.forward` on one batch of --model-batch profiles (best of
  two, just before the end-to-end run), and float16's rounding against float32; on a GPU also
  under bf16 and fp16 autocast, with autocast's max abs difference and PCC against float32;
- disk write bandwidth: chunk-sized blocks written with pwrite + fdatasync, as the output is, by
  one thread and by two side by side (the better; the conversion writes with two on a GPU);
- end to end: `convert_profiles` on the first --convert profiles (default: all on a GPU, 16,384
  on the CPU, where all would take about an hour), float16 output, setup and final checks
  included; its ratio to min(model-only, disk-bound profiles/s);
- the chunk pipeline's own rate (read, compute, write, verify; without the job's setup: model
  load, output creation, pinned buffers, and final checks, which happen once per job);
- the projected time for 3,000,000 profiles (setup and final checks once, the chunks at the
  pipeline's rate), and float16 against float32 output sizes.

--layout published makes the input a Level 3 file as CMap publishes it (LINCS 2020
`level3_beta_*_n..x12328.gctx`, written by `benchmarks.level3_read.write_level3`): --profiles
profiles over the 12,328 L1000 genes, rows the Entrez ids sorted as text (which puts landmarks in
every gene chunk), CMap's (262, 1000) chunks, seeded uniform values in 4..15, only the ids inside,
and a geneinfo_beta.txt written from the clue gene table (`benchmarks.level3_read.gene_table`);
the bundle's 962 input genes are 962 of the 978 landmarks (clue symbols, input_gene_ids their
Entrez ids) and the conversion reads the file with ConvertOptions(gene_info=...). Measured too:
- disk read bandwidth on the input: the file dropped from the page cache, read whole by one
  stream and by 4 (`benchmarks.level3_read.disk_bandwidth`), before the measures and after the
  end-to-end run, the best of the four used;
- input-bound profiles/s: that bandwidth over the input bytes per profile that must be read
  (the chunks holding the model's input rows: all 13 with CMap's chunks and rows sorted as text),
  and the end-to-end ratio to min(model-only, output disk-bound, input-bound);
- the end-to-end run starts with the input dropped from the page cache; the bytes the disk read
  during it (/proc/self/io), and the peak RSS during it (VmHWM, reset just before).

Files go to a temporary folder (--dir), deleted at the end. A float16 output of 200,000 profiles
takes 9.4 GB; the published-layout input 10.4 GB. Run: python -m benchmarks.convert [--profiles
200000] [--convert N] [--layout inside|published] [--dir var/bench-convert]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks import level3_read
from benchmarks.common import best_time, machine, markdown
from transform.convert import ConvertOptions, convert_profiles
from transform.convert.compute import AUTOCAST, ChunkModel
from transform.convert.output import create_output
from transform.convert.synthetic import write_random_bundle
from transform.inference import TwoStepModel
from transform.io import GctxWriter

N_INPUTS, N_OUTPUTS = 962, 23614  # the paper's gene spaces
PROJECTED = 3_000_000
WRITE_BLOCKS = 6  # chunk-sized blocks written to measure the disk
NO_GPU = "not measured (no GPU lent)"
CPU_CONVERT = 16_384  # profiles converted end to end on the CPU unless --convert says
CPU_MODEL_BATCH = 2048
N_GENES = level3_read.N_GENES  # the genes of CMap's published Level 3 files
READ_STREAMS = (1, level3_read.STREAMS)  # readers of the input's read-bandwidth passes


@dataclass(frozen=True)
class Source:
    """The generated input: the GCTX, its gene table (published layout) and, for that layout,
    the bytes per profile of the stored chunks holding the model's input rows."""

    path: Path
    gene_info: Path | None = None
    chunks: tuple[int, int] | None = None  # the stored (profiles, genes) chunk shape
    bytes_per_profile: float | None = None


def write_inputs(path: Path, genes: list[str], n_profiles: int, block: int = 10_000) -> None:
    """A Level 3 GCTX over `genes` of uniform values in 4..15, in blocks of profiles."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {"pr_gene_symbol": genes, "pr_gene_id": np.arange(1, len(genes) + 1)},
        index=pd.Index([f"{100_000 + i}_at" for i in range(len(genes))], name="rid"),
    )
    with GctxWriter(path, rows) as writer:
        for start in range(0, n_profiles, block):
            ids = [f"P{j:07d}" for j in range(start, min(start + block, n_profiles))]
            cols = pd.DataFrame({"cell_id": "A375"}, index=pd.Index(ids, name="cid"))
            values = rng.uniform(4, 15, (len(genes), len(ids))).astype(np.float32)
            writer.append(values, cols)


def write_published(folder: Path, n_profiles: int, outputs: list[str]) -> Source:
    """The bundle over 962 of the 978 landmarks and a LINCS 2020-layout input (module doc)."""
    genes = level3_read.gene_table().set_index("Entrez ID")
    genes.index = genes.index.astype(int)
    chosen = genes[genes["Type"] == "landmark"].sort_index().iloc[:N_INPUTS]  # by Entrez id
    symbols = chosen["Symbol"].tolist()
    write_random_bundle(
        folder / "model.pt",
        input_genes=symbols,
        output_genes=outputs,
        input_gene_ids={s: int(e) for s, e in zip(symbols, chosen.index, strict=True)},
    )
    ids = sorted(genes.index.astype(str))  # Entrez ids sorted as text, as CMap's files are
    chunks = level3_read.cmap_chunks(N_GENES, n_profiles)
    path = folder / f"level3_beta_trt_cp_n{n_profiles}x{N_GENES}.gctx"
    level3_read.write_level3(path, ids, n_profiles, chunks, seed=0)
    level3_read.drop_cache(path)
    gene_info = folder / "geneinfo_beta.txt"
    pd.DataFrame(
        {
            "gene_id": genes.index,
            "gene_symbol": genes["Symbol"],
            "ensembl_id": "",
            "gene_title": genes["Name"],
            "gene_type": "protein-coding",
            "src": "NCBI",
            "feature_space": genes["Type"],
        }
    ).to_csv(gene_info, sep="\t", index=False)
    at = {gene: i for i, gene in enumerate(ids)}
    rows = np.array([at[str(e)] for e in chosen.index], dtype=np.int64)
    needed = level3_read.needed_bytes((n_profiles, N_GENES), chunks, rows, "chunk columns")
    print(
        f"input genes in {len(np.unique(rows // chunks[1]))} of "
        f"{-(-N_GENES // chunks[1])} gene chunks",
        file=sys.stderr,
    )
    return Source(path, gene_info, chunks, needed / n_profiles)


def matmul_gflops(device: torch.device) -> float:
    """Best float32 GEMM rate of (2048 x 4096) @ (4096 x 8192), the extrapolator's middle."""
    a = torch.randn(2048, 4096, device=device)
    b = torch.randn(4096, 8192, device=device)

    def multiply() -> None:
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    multiply()
    return 2 * 2048 * 4096 * 8192 / best_time(multiply) / 1e9


def model_rate(model: TwoStepModel, batch: int, autocast: str | None = None) -> float:
    """Profiles/s of the forward pass (float16 out) on `batch` profiles, best of two."""
    chunk_model = ChunkModel(model, dtype="float16", autocast=autocast)
    inputs = random_inputs(chunk_model, batch)
    chunk_model.forward(inputs[:64])  # warm-up
    return batch / best_time(lambda: _synchronized(chunk_model, inputs), repeats=2)


def float16_rounding(model: TwoStepModel, batch: int) -> float:
    """Max |float16 - float32| of the stored profiles over `batch` profiles."""
    exact = ChunkModel(model, dtype="float32")
    inputs = random_inputs(exact, batch)
    stored = ChunkModel(model, dtype="float16").forward(inputs).float()
    return float((stored - exact.forward(inputs)).abs().max())


def random_inputs(model: ChunkModel, batch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)
    inputs = torch.rand(batch, model.n_inputs, generator=generator) * 11 + 4
    return inputs.to(model.device)


def _synchronized(model: ChunkModel, inputs: torch.Tensor) -> None:
    model.forward(inputs)
    if model.device.type == "cuda":
        torch.cuda.synchronize()


def disk_bandwidth(folder: Path, block_bytes: int, streams: int = 1) -> float:
    """Bytes/s of WRITE_BLOCKS blocks written with pwrite + fdatasync, as chunks are, by
    `streams` threads side by side (the conversion writes with 2 on a GPU)."""
    path = folder / "bandwidth.bin"
    block = np.random.default_rng(1).integers(0, 255, block_bytes, dtype=np.uint8).tobytes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def write(at: int) -> None:
        os.pwrite(fd, block, at * block_bytes)
        os.fdatasync(fd)

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(write, range(WRITE_BLOCKS)))
        seconds = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return WRITE_BLOCKS * block_bytes / seconds


def output_sizes(folder: Path, source: Path, genes: list[str], n: int) -> dict[str, int]:
    """File bytes of a created output of n profiles, float16 and float32 (not filled)."""
    sizes = {}
    for dtype in ("float16", "float32"):
        path = folder / f"size-{dtype}.gctx"
        create_output(path, source=source, n_profiles=n, genes=genes, dtype=dtype, name=path.name)
        sizes[dtype] = path.stat().st_size
        path.unlink()
    return sizes


def read_passes(source: Source) -> list[float]:
    """Bytes/s of reading the input whole from the disk, by one stream and by several."""
    return [level3_read.disk_bandwidth(source.path, streams)[0] for streams in READ_STREAMS]


def measure(
    args: argparse.Namespace, folder: Path, device: torch.device, source: Source
) -> dict[str, object]:
    bundle = folder / "model.pt"
    published = source.gene_info is not None
    model = TwoStepModel.load(bundle, device=str(device))
    cuda = device.type == "cuda"
    batch = args.model_batch or (args.chunk_size if cuda else CPU_MODEL_BATCH)
    found: dict[str, object] = {"flops": ChunkModel(model).flops_per_profile()}
    found["gflops"] = matmul_gflops(device)
    found["floor"] = found["gflops"] * 1e9 / found["flops"]
    found["rounding"] = float16_rounding(model, min(batch, 512))
    if cuda:
        found["autocast"] = {name: autocast_check(model, batch, name) for name in AUTOCAST}
    bytes_per_profile = N_OUTPUTS * 2
    found["bandwidth"] = max(
        disk_bandwidth(folder, args.chunk_size * bytes_per_profile, streams) for streams in (1, 2)
    )
    found["disk"] = found["bandwidth"] / bytes_per_profile
    if published:
        found["reads"] = read_passes(source)
    found["model"] = model_rate(model, batch)  # just before the end-to-end run
    del model
    limit = args.convert or (None if cuda else CPU_CONVERT)
    output = folder / f"out-{device.type}.gctx"
    if published:
        level3_read.drop_cache(source.path)
        rss = level3_read.reset_peak_rss()  # VmHWM from here on is the conversion's peak
        disk_before = level3_read.disk_read_bytes()
    summary = convert_profiles(
        checkpoint=bundle,
        input=source.path,
        output=output,
        options=ConvertOptions(
            chunk_size=args.chunk_size,
            dtype="float16",
            device=device.type,
            limit=limit,
            gene_info=source.gene_info,
        ),
        stream=sys.stderr,
    )
    if published:
        found["disk_read"] = level3_read.disk_read_bytes() - disk_before
        found["peak_rss"] = level3_read.status_kb("VmHWM") * 1024
        found["rss_growth"] = found["peak_rss"] - rss
    output.unlink()
    found["converted"] = summary.profiles
    found["end_to_end"] = summary.profiles / summary.seconds
    bounds = [found["model"], found["disk"]]
    if published:
        found["reads"] += read_passes(source)
        found["read_bandwidth"] = max(found["reads"])
        found["input_bytes"] = source.bytes_per_profile
        found["input"] = found["read_bandwidth"] / source.bytes_per_profile
        found["needed"] = source.bytes_per_profile * summary.profiles
        bounds.append(found["input"])
    found["bound"] = min(bounds)
    found["ratio"] = found["end_to_end"] / found["bound"]
    found["steady"] = summary.profiles / summary.pipeline_seconds
    found["steady_ratio"] = found["steady"] / found["bound"]
    found["fixed_s"] = summary.seconds - summary.pipeline_seconds
    return found


def autocast_check(model: TwoStepModel, batch: int, name: str) -> dict[str, float]:
    """Model-only profiles/s under `name` autocast, and its agreement with float32."""
    chunk_model = ChunkModel(model, dtype="float16", autocast=name)
    check = chunk_model.check_autocast(random_inputs(chunk_model, min(batch, 2048)))
    return {"rate": model_rate(model, batch, autocast=name), **check}


def table(
    cpu: dict[str, object] | None, gpu: dict[str, object] | None, published: bool = False
) -> list[dict[str, object]]:
    bound = "min(model only, disk-bound)"
    rows = [
        ("matmul GFLOP/s (float32, measured)", "gflops", 1),
        ("model FLOP floor (profiles/s)", "floor", 1),
        ("model only (profiles/s)", "model", 1),
        ("disk write bandwidth (MB/s)", "bandwidth", 1e-6),
        ("disk-bound (profiles/s, float16)", "disk", 1),
    ]
    if published:
        bound = "min(model only, output disk-bound, input-bound)"
        rows += [
            ("disk read MB/s on the input: 1 stream, 4 (before); same after", "reads", 1e-6),
            ("disk read bandwidth used (MB/s, the best)", "read_bandwidth", 1e-6),
            ("input bytes read per profile (chunks holding the input genes)", "input_bytes", 1),
            ("input-bound (profiles/s)", "input", 1),
            (bound + " (profiles/s)", "bound", 1),
        ]
    rows += [
        ("end to end (profiles/s, float16)", "end_to_end", 1),
        (f"end to end / {bound}", "ratio", 1),
        ("chunk pipeline alone (profiles/s)", "steady", 1),
        (f"chunk pipeline / {bound}", "steady_ratio", 1),
        ("setup and final checks (s, once per job)", "fixed_s", 1),
    ]
    if published:
        rows += [
            ("disk read during the end to end (MB)", "disk_read", 1e-6),
            ("input chunks needed for the profiles converted (MB)", "needed", 1e-6),
            ("peak RSS during the end to end (MB, VmHWM)", "peak_rss", 1e-6),
            ("peak RSS growth during the end to end (MB)", "rss_growth", 1e-6),
        ]
    rows += [
        ("model only / FLOP floor", None, 1),
        ("3,000,000 profiles (h), end to end", None, 1),
    ]
    out = []
    for label, key, scale in rows:
        out.append(
            {
                "measure": label,
                "CPU": _value(cpu, key, label, scale) if cpu else "not measured here",
                "GPU": _value(gpu, key, label, scale) if gpu else NO_GPU,
            }
        )
    return out


def _value(found: dict[str, object], key: str | None, label: str, scale: float) -> object:
    if label.startswith("3,000,000"):  # the fixed part once, the chunks at the pipeline rate
        return (found["fixed_s"] + PROJECTED / found["steady"]) / 3600
    if label.startswith("model only / FLOP"):
        return found["model"] / found["floor"]
    if key == "reads":
        return " / ".join(f"{rate * scale:,.0f}" for rate in found[key])
    return found[key] * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=200_000, help="profiles generated")
    parser.add_argument(
        "--convert", type=int, help="profiles converted end to end (all on a GPU, else 16,384)"
    )
    parser.add_argument("--chunk-size", type=int, default=ConvertOptions.chunk_size)
    parser.add_argument(
        "--model-batch", type=int, help="model-only batch (the chunk size on a GPU, else 2,048)"
    )
    parser.add_argument("--dir", type=Path, help="where the files go (a temporary folder)")
    parser.add_argument(
        "--layout",
        choices=("inside", "published"),
        default="inside",
        help="input: 962 genes with metadata inside, or CMap's LINCS 2020 layout (12,328 genes, "
        "ids only, (262, 1000) chunks) with a geneinfo_beta.txt",
    )
    parser.add_argument(
        "--devices",
        default="cpu,cuda",
        help="measured devices (cuda when torch sees one); a GPU host: --devices cuda",
    )
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="convert-bench-", dir=args.dir))
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder)


def run(args: argparse.Namespace, folder: Path) -> None:
    outputs = [f"R{i:05d}" for i in range(N_OUTPUTS)]
    started = time.perf_counter()
    published = args.layout == "published"
    if published:
        source = write_published(folder, args.profiles, outputs)
    else:
        inputs = [f"L{i:04d}" for i in range(N_INPUTS)]
        source = Source(folder / "level3.gctx")
        write_random_bundle(folder / "model.pt", input_genes=inputs, output_genes=outputs)
        write_inputs(source.path, inputs, args.profiles)
    print(
        f"wrote the bundle and {args.profiles:,} profiles in "
        f"{time.perf_counter() - started:,.0f} s",
        file=sys.stderr,
    )
    devices = args.devices.split(",")
    cpu = measure(args, folder, torch.device("cpu"), source) if "cpu" in devices else None
    gpu = None
    if "cuda" in devices and torch.cuda.is_available():
        gpu = measure(args, folder, torch.device("cuda"), source)
    first = cpu or gpu
    if first is None:
        sys.exit(f"none of --devices {args.devices} is here")
    sizes = output_sizes(folder, source.path, outputs, first["converted"])
    layout = ""
    if published:
        size = source.path.stat().st_size / 1e9
        layout = (
            f" (LINCS 2020 layout: {N_GENES:,} genes sorted by Entrez id as text, chunks "
            f"{source.chunks}, ids only, {size:.1f} GB, with geneinfo_beta.txt; the "
            "bundle's inputs are 962 of the 978 landmarks)"
        )
    print(
        f"Conversion benchmark on {machine()}"
        f"{f', {torch.cuda.get_device_name()}' if gpu else ''}: bundle {N_INPUTS} -> "
        f"{N_OUTPUTS} genes ({first['flops'] / 1e9:.3f} GFLOP per profile), input "
        f"{args.profiles:,} profiles{layout}, {first['converted']:,} converted end to end in "
        f"chunks of {args.chunk_size:,}, float16 output\n"
    )
    print(markdown(table(cpu, gpu, published)))
    print()
    print(markdown(size_rows(sizes, first)))
    print()
    print(markdown(autocast_rows(gpu)))


def size_rows(sizes: dict[str, int], found: dict[str, object]) -> list[dict[str, object]]:
    n = found["converted"]
    return [
        {
            "output": dtype,
            "bytes per profile": sizes[dtype] / n,
            "3,000,000 profiles (GB)": sizes[dtype] / n * PROJECTED / 1e9,
            "max abs difference from float32": found["rounding"] if dtype == "float16" else 0.0,
        }
        for dtype in ("float16", "float32")
    ]


def autocast_rows(gpu: dict[str, object] | None) -> list[dict[str, object]]:
    if gpu is None:
        return [
            {
                "autocast": "bf16, fp16",
                "model only (profiles/s)": NO_GPU,
                "max abs difference": NO_GPU,
                "PCC": NO_GPU,
            }
        ]
    return [
        {
            "autocast": name,
            "model only (profiles/s)": check["rate"],
            "max abs difference": check["max_abs_diff"],
            "PCC": f"{check['pcc']:.6f}",
        }
        for name, check in gpu["autocast"].items()
    ]


if __name__ == "__main__":
    main()
