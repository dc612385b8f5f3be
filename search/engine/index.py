"""SearchIndex: an index directory opened, checked and memory-mapped; the engine's read API.

`SearchIndex.open(directory)` reads index.json, checks every file against it (layout.py: sizes,
dtypes, shapes, sampled checksums) and refuses a corrupt or mismatched index with
IndexArtifactError. The matrices stay on disk, memory-mapped; the metadata table, the gene space
and the FAISS index are loaded. Open once per process and share it (threads may search at once).
A head (an index whose matrices are only in its shards: shards/writing.py) opens without them; a
ShardedIndex of its shards attaches them, and it then reads and searches through the shards.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast, overload

import faiss
import numpy as np
from numpy.typing import NDArray

from search.engine import layout, reverse_tables
from search.engine.backends import cpu
from search.engine.errors import IndexArtifactError, InvalidQueryError, UnknownGeneError
from search.engine.fast import FastSettings, candidates
from search.engine.metadata import Selection, SignatureTable
from search.engine.query import MIN_GENES
from search.engine.readahead import RowReader
from search.engine.results import SearchResult
from search.engine.searching import run_search, top_positions

if TYPE_CHECKING:
    from search.engine.backends.torch_gpu import DeviceRanks
    from search.engine.shards.matrices import Ask
    from search.engine.shards.searching import ShardedIndex

IndexError_ = IndexArtifactError  # the name search/runtime/index_access.py imports
SIMILAR_EXACT_BYTES = 1 << 30  # "similar" reads the whole rank matrix up to this size

# _gene_keys: positions, the gene's ranks and values (None without values), the centred key
_GeneKeys: TypeAlias = tuple[NDArray[np.int64], np.ndarray, np.ndarray | None, np.ndarray]


class SearchIndex:
    """Open with SearchIndex.open(directory); see search/engine/__init__.py for the API."""

    def __init__(self, folder: Path, manifest: dict[str, Any], *, threads: int = 1) -> None:
        self.folder = Path(folder)
        self.manifest = manifest
        self.threads = threads
        self.version = str(manifest.get("version", folder.name))
        self.genes = (self.folder / "genes.txt").read_text(encoding="utf-8").split("\n")[:-1]
        self.n_genes = len(self.genes)
        self._rows = {gene: row for row, gene in reversed(list(enumerate(self.genes)))}
        self._rows_upper = {gene.upper(): row for gene, row in self._rows.items()}
        self.table = SignatureTable.read(self.folder / "metadata.h5")
        self.n_signatures = len(self.table)
        # a head (shards/writing.py): its matrices in shards, read through them once attached
        self.in_shards: dict[str, Any] | None = manifest.get("in_shards")
        self.shard_bounds = self._shard_bounds()  # a head's K + 1 signature positions, else None
        self.sharded: ShardedIndex | None = None
        self.ranks = self._matrix("ranks")
        self.top_genes = self._array("top_genes")
        self.hub = self._array("hub", required=False)  # (2, G): see hubs.py
        self.specificity = self._array("specificity", required=False)  # (N, Q): specificity.py
        self.values = self._matrix("values", required=False)
        self.value_stats = self._array("value_stats", required=False)
        self.flat = self._array("flat", required=False)
        self.basis = self._array("basis", required=False)
        self.embedded = self._array("embedded", required=False)
        reverse_file = self.folder / reverse_tables.FILE_NAME
        self.reverse = reverse_tables.ReverseTables(reverse_file) if reverse_file.exists() else None
        fast_file = self.folder / "fast.faiss"
        self.faiss = faiss.read_index(str(fast_file)) if fast_file.exists() else None
        fast = manifest.get("fast") or {}
        self.fast_settings = FastSettings(
            candidates=int(fast.get("candidates", FastSettings.candidates))
        )
        self.recall_at_100 = fast.get("recall_at_100")
        self.fast_meets_target = bool(fast.get("meets_target", False))
        self._check_shapes()
        self.readers = {
            name: RowReader(self.folder / f"{name}.npy", matrix)
            for name, matrix in (("ranks", self.ranks), ("values", self.values))
            if matrix is not None and self.in_shards is None
        }
        self._device_ranks: DeviceRanks | None = None
        self._device_lock = threading.Lock()

    @classmethod
    def open(cls, directory: str | Path, *, verify: bool = False, threads: int = 1) -> SearchIndex:
        """Open the current version of an index directory; verify=True checks full SHA-256s.

        threads: per query (numpy kernels and FAISS; FAISS's OpenMP setting is process-wide)."""
        faiss.omp_set_num_threads(max(1, threads))
        manifest = layout.read_manifest(Path(directory))
        folder = layout.version_folder(Path(directory), manifest)
        layout.check_files(folder, manifest.get("files", {}), full=verify)
        return cls(folder, manifest, threads=threads)

    def device_ranks(self) -> DeviceRanks:
        """The rank matrix in GPU memory (backends/torch_gpu.py), copied on first use (once,
        whatever the number of threads asking)."""
        if self.in_shards is not None:
            raise IndexArtifactError("a head's rank matrix is in its shards, not on this GPU")
        with self._device_lock:
            if self._device_ranks is None:
                from search.engine.backends.torch_gpu import DeviceRanks

                self._device_ranks = DeviceRanks(self.ranks)
        return self._device_ranks

    def read_ahead(self, rows: np.ndarray, selection: Selection, matrix: str = "ranks") -> bool:
        """Ask the disk for the selected span of these rows of the rank (or values) matrix at
        once when they are not in memory (readahead.py); True when it asked."""
        return self.readers[matrix].ahead(rows, selection.start, selection.stop)

    @property
    def n_shards(self) -> int:
        """How many shards a head's matrices are in (0: this index holds its own)."""
        return 0 if self.shard_bounds is None else self.shard_bounds.size - 1

    def attach(self, sharded: ShardedIndex, ask: Ask) -> None:
        """A head: its searches go to `sharded`, and its matrices are read through `ask`."""
        from search.engine.shards.matrices import MatrixInShards  # the package imports this one

        self.sharded = sharded
        for name in ("ranks", "values"):
            matrix = getattr(self, name)
            if isinstance(matrix, MatrixInShards):
                setattr(self, name, matrix.asking(ask))

    @overload
    def _matrix(self, name: str, *, required: Literal[True] = True) -> np.ndarray: ...

    @overload
    def _matrix(self, name: str, *, required: bool) -> np.ndarray | None: ...

    def _matrix(self, name: str, *, required: bool = True) -> np.ndarray | None:
        """A gene-major matrix: memory-mapped, or for a head read from its shards. The latter
        is typed as the array it stands for: it is read with the same indexing (a row, a column,
        np.ix_ cells), and the kernels that need the array itself are not run on a head."""
        if self.in_shards is None or self.shard_bounds is None:
            return self._array(name, required=required)
        from search.engine.shards.matrices import MatrixInShards  # the package imports this one

        dtype = self.in_shards["matrices"].get(name)
        if dtype is None:
            if required:
                raise IndexArtifactError(f"the head's index.json has no {name} matrix")
            return None
        shape = (self.n_genes, self.n_signatures)
        return cast(np.ndarray, MatrixInShards(name, shape, np.dtype(dtype), self.shard_bounds))

    def _shard_bounds(self) -> NDArray[np.int64] | None:
        """A head's shard bounds from its index.json, checked to cover its signatures."""
        if self.in_shards is None:
            return None
        bounds = np.asarray(self.in_shards["bounds"], dtype=np.int64)
        if bounds.size < 2 or bounds[0] != 0 or bounds[-1] != self.n_signatures:
            raise IndexArtifactError(
                f"the head's shard bounds do not cover {self.n_signatures} signatures"
            )
        return bounds

    @overload
    def _array(self, name: str, *, required: Literal[True] = True) -> np.ndarray: ...

    @overload
    def _array(self, name: str, *, required: bool) -> np.ndarray | None: ...

    def _array(self, name: str, *, required: bool = True) -> np.ndarray | None:
        path = self.folder / f"{name}.npy"
        if not path.exists():
            if required:
                raise IndexArtifactError(f"{path} is missing")
            return None
        return np.asarray(np.load(path, mmap_mode="r"))  # an ndarray view: no np.memmap overhead

    def _check_shapes(self) -> None:
        g, n = self.n_genes, self.n_signatures
        expected = {
            "ranks": (g, n),
            "values": (g, n),
            "value_stats": (n, 2),
            "flat": (n, g),
            "hub": (2, g),
        }
        for name, shape in expected.items():
            array = getattr(self, name)
            if array is not None and array.shape != shape:
                raise IndexArtifactError(
                    f"{name}.npy is {array.shape}, the gene space and metadata say {shape}"
                )
        if self.specificity is not None and self.specificity.shape[0] != n:
            raise IndexArtifactError(
                f"specificity.npy has {self.specificity.shape[0]} rows, not {n}"
            )
        gene_space = self.manifest.get("gene_space", {})
        if gene_space.get("n_genes", g) != g or self.manifest.get("n_signatures", n) != n:
            raise IndexArtifactError("index.json disagrees with the gene space or the metadata")

    # genes ------------------------------------------------------------------------------------
    @property
    def exact_rows(self) -> Mapping[str, int]:
        """Gene symbol -> row, exact spelling only (gene_row also matches any case)."""
        return self._rows

    def gene_row(self, symbol: str) -> int | None:
        """The row of a gene symbol (exact, then case-insensitive), None outside the gene space."""
        row = self._rows.get(symbol)
        return self._rows_upper.get(symbol.upper()) if row is None else row

    def has_gene(self, symbol: str) -> bool:
        return self.gene_row(symbol) is not None

    def _required_row(self, gene: str) -> int:
        row = self.gene_row(gene)
        if row is None:
            raise UnknownGeneError(f"{gene} is not in the index's gene space", gene=gene)
        return row

    # searches ---------------------------------------------------------------------------------
    def search(
        self,
        up: Sequence[str] = (),
        down: Sequence[str] = (),
        *,
        mode: str = "both",
        filters: Mapping[str, object] | None = None,
        k: int = 100,
        score: str = "rank",
        path: str = "auto",
        min_genes: int = MIN_GENES,
        order: str = "z",
    ) -> SearchResult:
        """Score every signature passing the filters against an up/down gene-set query (a side
        given needs min_genes genes of the index); order "tau" ranks by specificity (exact path,
        rank score, an index with a compendium), ties by z. A head searches its shards (the
        exact path, whatever `path` asks)."""
        searching = (
            self._shards().search
            if self.in_shards is not None
            else functools.partial(run_search, self, path=path)
        )
        return searching(
            up, down, mode=mode, score=score, filters=filters, k=k, min_genes=min_genes, order=order
        )

    def similar(
        self,
        sig_id: str,
        k: int = 20,
        *,
        filters: Mapping[str, object] | None = None,
        path: str = "auto",
    ) -> list[dict[str, Any]]:
        """The k signatures most like sig_id over the whole gene space: Spearman's rho (the
        cosine of centred ranks), largest first, sig_id itself left out."""
        at = self.table.position(sig_id)
        selection = self.table.select(filters)
        column = self.ranks[:, at]
        centred = column.astype(np.float64) - (self.n_genes + 1) / 2
        if path == "auto":
            exact = self.n_signatures * self.n_genes * 2 <= SIMILAR_EXACT_BYTES
            path = "exact" if exact or self.faiss is None else "fast"
        if path == "fast":
            # path "fast" is asked of an index built with the fast mode (fast.faiss, embedded.npy)
            assert self.faiss is not None
            assert self.embedded is not None
            found = candidates(
                self.faiss,
                np.asarray(self.embedded[at]),
                (1,),
                selection,
                self.n_signatures,
                self.fast_settings,
                self.embedded,
            )
            if found is None:  # a filter the fast scan cannot serve
                return self.similar(sig_id, k, filters=filters, path="exact")
            positions = found
            products = (
                self._shards().products_at(column, found)  # a head: each shard its candidates
                if self.in_shards is not None
                else cpu.column_products(self.ranks, centred, found)
            )
        elif path == "exact":
            positions = selection.positions
            products = (
                self._shards().products(column, filters, selection)  # each shard its own
                if self.in_shards is not None
                else cpu.dense_products(self.ranks, centred, selection, self.threads)
            )
        elif path in ("flat", "gpu") and self.flat is not None:
            positions = selection.positions
            gpu = path == "gpu"
            products = cpu.flat_products(
                self.flat, centred[None], selection, gpu=gpu, threads=self.threads
            )[0]
        else:
            raise InvalidQueryError(f"similar runs on exact, fast, flat or gpu, not {path!r}")
        rho = products / (self.n_genes * (self.n_genes**2 - 1) / 12)
        keep = positions != at
        positions, rho = positions[keep], rho[keep]
        picks = top_positions(rho, k)
        rows = self.table.rows(positions[picks])
        rows.insert(1, "rho", rho[picks])
        records: list[dict[str, Any]] = rows.to_dict("records")
        return records

    # signatures and genes ---------------------------------------------------------------------
    def signature(self, sig_id: str, n: int = 50) -> dict[str, Any]:
        """A signature's metadata and its n most raised and n most lowered genes, with values
        (CD where the index stores values, else the rank) and ranks (1 = most raised/lowered)."""
        stored = self.top_genes.shape[2]
        if n > stored:
            raise InvalidQueryError(
                f"n is at most {stored}: the genes the index stores per signature and side",
                field="n",
            )
        at = self.table.position(sig_id)
        detail: dict[str, Any] = self.table.rows(np.array([at])).iloc[0].to_dict()
        source = self.values if self.values is not None else self.ranks
        both = np.asarray(self.top_genes[at, :, :n], dtype=np.int64)  # (2, n): one read of both
        read = np.asarray(source[both.ravel(), at]).reshape(both.shape)
        for side, name in ((0, "top_up"), (1, "top_down")):
            rows, values = both[side], read[side]
            detail[name] = [
                {"gene": self.genes[row], "value": float(value), "rank": i + 1}
                for i, (row, value) in enumerate(zip(rows, values, strict=True))
            ]
        return detail

    def gene_signatures(
        self,
        gene: str,
        *,
        direction: str = "up",
        pert_type: str | None = None,
        cell_id: str | None = None,
        filters: Mapping[str, object] | None = None,
        limit: int = 25,
        by: str = "value",
    ) -> list[dict[str, Any]]:
        """The signatures that raise (direction "up") or lower ("down") one gene most, by its
        CD value (by="value", where stored) or its rank in the signature (by="rank"). Only
        signatures that move the gene that way are listed: "up" those where its CD is positive
        (by rank: above the middle rank), "down" those where it is negative; `gene_side_counts`
        says how many there are."""
        if direction not in ("up", "down") or by not in ("value", "rank"):
            raise InvalidQueryError("direction is up or down; by is value or rank")
        keys = self._gene_keys(gene, pert_type, cell_id, filters, by)
        return self._moving(keys, direction, limit)

    def gene_tables(
        self,
        gene: str,
        *,
        directions: Sequence[str] = ("up", "down"),
        pert_type: str | None = None,
        cell_id: str | None = None,
        limit: int = 25,
    ) -> dict[str, Any]:
        """`gene_signatures` for each direction and `gene_side_counts` under "counts", from one
        read of the gene's rows (by CD value)."""
        keys = self._gene_keys(gene, pert_type, cell_id, None, "value")
        return {
            **{way: self._moving(keys, way, limit) for way in directions},
            "counts": _side_counts(keys),
        }

    def _moving(self, keys: _GeneKeys, direction: str, limit: int) -> list[dict[str, Any]]:
        """The rows of `gene_signatures` from the keys of `_gene_keys`."""
        positions, ranks, values, key = keys
        side = np.flatnonzero(key > 0 if direction == "up" else key < 0)
        picks = side[top_positions((key if direction == "up" else -key)[side], limit)]
        table = self.table.rows(positions[picks])
        rank = ranks[picks].astype(np.int64)
        table.insert(1, "rank", self.n_genes + 1 - rank if direction == "up" else rank)
        table.insert(1, "value", values[picks] if values is not None else np.nan)
        records: list[dict[str, Any]] = table.to_dict("records")
        return records

    def gene_side_counts(
        self,
        gene: str,
        *,
        pert_type: str | None = None,
        cell_id: str | None = None,
        filters: Mapping[str, object] | None = None,
        by: str = "value",
    ) -> dict[str, int]:
        """How many of the (filtered) signatures raise the gene ("up"), lower it ("down"), and
        were looked at ("searched"), by the rule of `gene_signatures`."""
        return _side_counts(self._gene_keys(gene, pert_type, cell_id, filters, by))

    def _gene_keys(
        self,
        gene: str,
        pert_type: str | None,
        cell_id: str | None,
        filters: Mapping[str, object] | None,
        by: str,
    ) -> _GeneKeys:
        """Signature positions after the filters, the gene's rank (1 = most lowered) and value in
        each, and a key centred on 0: the CD value, or by="rank" (or without values) the rank
        less the middle rank (G + 1) / 2."""
        row = self._required_row(gene)
        selection = self.table.select(_merged(filters, pert_type=pert_type, cell_id=cell_id))
        positions = selection.positions
        all_ranks, all_values = self._gene_rows(row)
        ranks = all_ranks.take(positions)
        values = None if all_values is None else all_values.take(positions)
        if by == "rank" or values is None:
            return positions, ranks, values, ranks.astype(np.float64) - (self.n_genes + 1) / 2
        return positions, ranks, values, values.astype(np.float64)

    def gene_values(
        self, gene: str, *, filters: Mapping[str, object] | None = None
    ) -> dict[str, np.ndarray]:
        """One gene across the (filtered) signatures: its values (CD, or NaN without values),
        its rank in each (1 = most lowered ... G = most raised) and their metadata columns."""
        row = self._required_row(gene)
        selection = self.table.select(filters)
        positions = selection.positions
        ranks, values = self._gene_rows(row)
        out = {
            "sig_id": self.table.sig_ids[positions].to_numpy(),
            "values": np.full(positions.size, np.nan, dtype=np.float32)
            if values is None
            else values.take(positions),
            "rank": ranks.take(positions),
        }
        for name in self.table.columns:
            out[name] = self.table.column(name)[positions]
        return out

    def _gene_rows(self, row: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A gene's row of ranks and of values (None without values) across every signature; a
        head asks its shards for both at once."""
        matrices = [self.ranks] if self.values is None else [self.ranks, self.values]
        if self.in_shards is None or len(matrices) == 1:
            rows = [np.asarray(matrix[row]) for matrix in matrices]
        else:
            with ThreadPoolExecutor(max_workers=len(matrices)) as pool:
                rows = list(pool.map(lambda matrix: np.asarray(matrix[row]), matrices))
        return rows[0], rows[1] if len(rows) > 1 else None

    def _shards(self) -> ShardedIndex:
        """The shards a head searches, once attached."""
        if self.sharded is None:
            raise IndexArtifactError(
                f"this index is a head, its matrices in {self.n_shards} shards, and no shard "
                "is attached: serve it with SEARCH_SHARDS set to that number"
            )
        return self.sharded

    def verify(self) -> None:
        """Check the full SHA-256 of every file (minutes at a million signatures)."""
        layout.check_files(self.folder, self.manifest.get("files", {}), full=True)

    def describe(self) -> dict[str, Any]:
        """Facts for health and API answers: version, sizes, score, fast-mode recall."""
        return {
            "version": self.version,
            "n_signatures": self.n_signatures,
            "n_genes": self.n_genes,
            "recall_at_100": self.recall_at_100,
            "fast": self.manifest.get("fast"),
            "has_values": self.values is not None,
            "has_flat": self.flat is not None,
        }


def _side_counts(keys: _GeneKeys) -> dict[str, int]:
    positions, _, _, key = keys
    return {
        "up": int(np.count_nonzero(key > 0)),
        "down": int(np.count_nonzero(key < 0)),
        "searched": int(positions.size),
    }


def _merged(filters: Mapping[str, object] | None, **single: str | None) -> dict[str, object]:
    merged = dict(filters or {})
    merged.update({name: [value] for name, value in single.items() if value})
    return merged
