"""A small GSE92743 / GTEx v8-like pair of files, made from real data, and a bundle to evaluate.

- L1000: the real LJP005 Level 3 plate in GEO's layout (row ids Entrez ids as text, no metadata
  but ids; three non-landmark rows as in the 12,328-row files), 20 columns renamed to GTEx-like
  ids for the paired file, its other 357 for the unpaired `--level3`; a `gene_info.txt` with
  GEO's header.
- RNA-seq: read counts as GTEx v8 writes them (GCT 1.2, versioned Ensembl ids from the NCBI
  registry, Description = symbol, one `_PAR_Y` row), lacking 1 input and 4 other output genes;
  one row found by its symbol only, one by a previous symbol, 3 naming genes the model lacks.
- A pairs table (18 usable pairs, one naming an RNA-seq sample the counts lack), an ARCHS4-style
  collection of 80 samples, and a random-weight bundle: 40 landmarks in, 100 genes out (the
  landmarks among them: they are the model's gene matrix too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tests.transform.convert.helpers import TINY_EXTRAPOLATOR, TINY_GENERATOR
from tests.transform.io.real_files import LJP005_GCT
from transform.convert.synthetic import write_random_bundle
from transform.gene_ids import GeneRegistry, gene_registry
from transform.io import GeneMatrix, read_gct, write_archs4, write_gctx

N_INPUTS, N_OTHERS = 40, 59  # outputs: the inputs, N_OTHERS other genes and PLCXD1
PAR_GENE, PAR_ENSEMBL = "PLCXD1", "ENSG00000182378"  # pseudoautosomal: GTEx has a _PAR_Y row
N_PAIRED_L1000, N_PAIRS = 20, 18
RNASEQ_ONLY = 5
ROUTES = {"ensembl": 94, "symbol": 1, "previous symbol": 1, "unmatched": 3}  # see `_count_rows`


@dataclass(frozen=True)
class GtexPair:
    model: Path
    paired_l1000: Path
    gene_info: Path
    counts: Path  # GCT 1.2 of read counts
    pairs: Path
    collection: Path  # ARCHS4-style HDF5
    level3: Path
    lacking: tuple[str, ...]  # the output genes the counts lack (one of them an input)


def _unique_ensembl(registry: GeneRegistry, entrez: int) -> str | None:
    ids = [e for e in registry.ensembl.get(entrez, ()) if registry.by_ensembl[e] == (entrez,)]
    return ids[0] if ids else None


def _is_plain(registry: GeneRegistry, entrez: int, symbol: str) -> bool:
    """A gene that its current symbol and one Ensembl id name alone."""
    return (
        registry.symbol.get(entrez) == symbol
        and registry.by_symbol.get(symbol) == (entrez,)
        and _unique_ensembl(registry, entrez) is not None
    )


def _inputs(plate: GeneMatrix, registry: GeneRegistry) -> dict[str, int]:
    """The first N_INPUTS landmarks by symbol whose 2017 symbol is today's: symbol -> Entrez."""
    rows = plate.row_meta.sort_values("pr_gene_symbol")
    found = {
        str(symbol): int(entrez)
        for symbol, entrez in zip(rows["pr_gene_symbol"], rows["pr_gene_id"], strict=True)
        if _is_plain(registry, int(entrez), str(symbol))
    }
    return dict(list(found.items())[:N_INPUTS])


def _others(registry: GeneRegistry, taken: set[int]) -> dict[str, int]:
    """N_OTHERS more genes (the first plain ones by Entrez id past 1,000) and PLCXD1."""
    chosen = {}
    for entrez in sorted(registry.symbol):
        symbol = registry.symbol[entrez]
        if entrez > 1000 and entrez not in taken and _is_plain(registry, entrez, symbol):
            chosen[symbol] = entrez
        if len(chosen) == N_OTHERS:
            break
    return {**chosen, PAR_GENE: registry.by_symbol[PAR_GENE][0]}


def _alias(registry: GeneRegistry, entrez: int, wanted: set[str]) -> str | None:
    """A previous symbol that names this gene alone and no gene today."""
    for alias in registry.aliases.get(entrez, ()):
        alone = registry.by_alias.get(alias) == (entrez,)
        if alone and alias not in registry.by_symbol and alias not in wanted:
            return alias
    return None


def make_gtex_pair(root: Path, *, seed: int = 0) -> GtexPair:
    root.mkdir(parents=True, exist_ok=True)
    registry, plate = gene_registry(), read_gct(LJP005_GCT)
    inputs = _inputs(plate, registry)
    genes = {**inputs, **_others(registry, set(inputs.values()))}
    outputs = sorted(genes)
    model = write_random_bundle(
        root / "model.pt",
        input_genes=sorted(inputs),
        output_genes=outputs,
        input_gene_ids=inputs,
        generator=TINY_GENERATOR,
        extrapolator=TINY_EXTRAPOLATOR,
        seed=seed,
    )
    gene_info = _write_level3_files(root, plate, registry, set(genes.values()))
    rng = np.random.default_rng(seed)
    means = dict(zip(outputs, np.exp(rng.normal(4.0, 1.5, len(outputs))), strict=True))
    lacking = (sorted(inputs)[7], *[g for g in outputs if g not in inputs][10:14])
    _write_counts(root / "gene_reads.gct", registry, genes, means, set(lacking), rng)
    write_archs4(
        root / "collection.h5",
        _counts(rng, [means[g] for g in outputs], 80),
        pd.DataFrame({"symbol": outputs}),
        pd.DataFrame({"geo_accession": [f"GSM{900000 + k}" for k in range(80)]}),
    )
    _write_pairs(root / "pairs.txt")
    return GtexPair(
        model,
        root / "paired_level3.gctx",
        gene_info,
        root / "gene_reads.gct",
        root / "pairs.txt",
        root / "collection.h5",
        root / "level3.gctx",
        lacking,
    )


def l1000_id(k: int) -> str:
    return f"GTEX-{k:04d}-0011-R10a-SM-L{k:04d}"


def rnaseq_id(k: int) -> str:
    return f"GTEX-{k:04d}-0011-R10a-SM-{50000 + k}"


def _write_level3_files(
    root: Path, plate: GeneMatrix, registry: GeneRegistry, taken: set[int]
) -> Path:
    """The GEO-layout paired and unpaired GCTX (LJP005's values) and their gene table."""
    extra = [e for e in sorted(registry.symbol) if e > 5000 and e not in taken][:3]
    entrez = [str(int(e)) for e in plate.row_meta["pr_gene_id"]] + [str(e) for e in extra]
    rng = np.random.default_rng(1)
    values = np.vstack([plate.values, rng.uniform(4, 12, (3, plate.shape[1]))])
    rows = pd.DataFrame(index=pd.Index(entrez, name="rid"))
    ids = [l1000_id(k) for k in range(N_PAIRED_L1000)]
    ids += [str(cid) for cid in plate.col_ids[N_PAIRED_L1000:]]
    for name, at in (
        ("paired_level3.gctx", slice(0, N_PAIRED_L1000)),
        ("level3.gctx", slice(N_PAIRED_L1000, None)),
    ):
        cols = pd.DataFrame(index=pd.Index(ids[at], name="cid"))
        write_gctx(root / name, GeneMatrix(values[:, at], rows, cols))
    table = pd.DataFrame(
        {
            "pr_gene_id": entrez,
            "pr_gene_symbol": [
                *plate.row_meta["pr_gene_symbol"],
                *(registry.symbol[e] for e in extra),
            ],
            "pr_gene_title": [*plate.row_meta["pr_gene_title"], *(["-666"] * 3)],
            "pr_is_lm": [1] * plate.shape[0] + [0] * 3,
            "pr_is_bing": 1,
        }
    )
    table.to_csv(root / "GSE92743_Broad_GTEx_gene_info.txt", sep="\t", index=False)
    return root / "GSE92743_Broad_GTEx_gene_info.txt"


def _counts(rng: np.random.Generator, means: list[float], n: int) -> np.ndarray:
    """(len(means), n) int64 read counts: Poisson around each gene's mean, per-sample depth."""
    depth = rng.uniform(0.5, 2.0, n)
    return rng.poisson(np.outer(means, depth) * rng.gamma(4.0, 0.25, (len(means), n)))


def _write_counts(
    path: Path,
    registry: GeneRegistry,
    genes: dict[str, int],
    means: dict[str, float],
    lacking: set[str],
    rng: np.random.Generator,
) -> None:
    rows = _count_rows(registry, genes, lacking)
    samples = [rnaseq_id(k) for k in range(N_PAIRS)]
    samples += [rnaseq_id(100 + k) for k in range(RNASEQ_ONLY)]
    samples = [samples[k] for k in rng.permutation(len(samples))]
    counts = _counts(rng, [means.get(symbol, 50.0) for _, symbol in rows], len(samples))
    counts[[name.endswith("_PAR_Y") for name, _ in rows]] = 0  # GTEx counts reads on the X copy
    lines = ["#1.2", f"{len(rows)}\t{len(samples)}", "\t".join(["Name", "Description", *samples])]
    for (name, symbol), values in zip(rows, counts, strict=True):
        lines.append("\t".join([name, symbol, *map(str, values)]))
    path.write_text("\n".join(lines) + "\n")


def _count_rows(
    registry: GeneRegistry, genes: dict[str, int], lacking: set[str]
) -> list[tuple[str, str]]:
    """(Name, Description) per row: the held genes by versioned Ensembl id (94 rows with the
    _PAR_Y copy), but one by its symbol only and one by a previous symbol (ids Ensembl does not
    know), and 3 genes the model lacks (unmatched)."""
    held = [s for s in sorted(genes) if s not in lacking]
    by_alias = next(s for s in held[50:] if _alias(registry, genes[s], set(genes)))
    by_symbol = held[60]
    rows = []
    for version, symbol in enumerate(held):
        name = f"{_unique_ensembl(registry, genes[symbol])}.{version % 9 + 1}"
        if symbol == by_symbol:
            name = "ENSG09999999901.1"
        if symbol == by_alias:
            name, symbol = "ENSG09999999902.1", _alias(registry, genes[symbol], set(genes))
        rows.append((name, symbol))
    rows.append((f"{PAR_ENSEMBL}.11_PAR_Y", PAR_GENE))
    others = [e for e in sorted(registry.symbol) if e > 20000 and e not in genes.values()]
    others = [e for e in others if _is_plain(registry, e, registry.symbol[e])][:3]
    rows += [(f"{_unique_ensembl(registry, e)}.2", registry.symbol[e]) for e in others]
    return rows


def _write_pairs(path: Path) -> None:
    """18 usable pairs, and one (L1000 column 19) naming an RNA-seq sample the counts lack;
    L1000 column 18 is in no pair."""
    lines = ["l1000_cid\tgtex_sample_id"]
    lines += [f"{l1000_id(k)}\t{rnaseq_id(k)}" for k in range(N_PAIRS)]
    lines.append(f"{l1000_id(19)}\tGTEX-9999-0011-R10a-SM-99999")
    path.write_text("\n".join(lines) + "\n")
