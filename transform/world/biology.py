"""The latent biology of the world: gene modules, cell and tissue states, perturbation effects.

True expression is in log2 units (before the per-sample CPM scaling, docs/world.md):
    x[s, g] = baseline[g] + z[s] @ loadings[g] + offset[state(s), g]
              + response[s] * effect[pert(s), g] + noise[s, g]
with z the sample's module activities, offset the cell line's or tissue's own gene deviations, and
response = sensitivity(pert, cell) * hill(dose) * (1 - exp(-time / tau)) for a perturbed sample.

In a saturating world (`WorldConfig.saturation` > 0) a gene's module part is bounded instead:
    x[s, g] = baseline[g] + h_g(u[s, g]) + offset[state(s), g] + response[s] * direct[pert(s), g]
              + noise[s, g],   u[s, g] = (z[s] + response[s] * modules[pert(s)]) @ loadings[g],
    h_g(u) = scale[g] * tanh(u / scale[g]),
so the map from the landmarks to the other genes is not linear, and a perturbation's effect
depends on the state it meets; its true effect (`effects`) is the mean over the L1000 cell lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from transform.world.config import CELL_LINES, WorldConfig
from transform.world.genes import GeneUniverse

DIRECT_GENES = 40  # genes a compound moves beyond its modules
KO_DIRECT_GENES = 15
STRESS_MODULE = 0
MOA_MODULES = 6  # modules a mechanism of action moves
REGULATORS = 4  # landmark regulators a mechanism moves (worlds with landmark_regulators > 0)
TARGETS = 40  # genes each regulator moves
SATURATION_SPREAD = 0.3  # sd of the log of the genes' saturation scales (saturating worlds)


@dataclass(frozen=True)
class Biology:
    baseline: np.ndarray  # (n_genes,) float64, log2 scale
    loadings: np.ndarray  # (n_genes, n_modules) float32, sparse rows
    cell_ids: tuple[str, ...]
    cell_states: np.ndarray  # (n_cells, n_modules)
    cell_offsets: np.ndarray  # (n_cells, n_genes) float32
    tissue_states: np.ndarray  # (n_tissues, n_modules)
    tissue_offsets: np.ndarray  # (n_tissues, n_genes) float32
    perturbations: pd.DataFrame  # pert_id, pert_iname, pert_type, moa, target, ec50_um, hill, ...
    pert_modules: np.ndarray  # (n_perts, n_modules)
    pert_direct_genes: np.ndarray  # (n_perts, n_direct) int gene positions
    pert_direct_values: np.ndarray  # (n_perts, n_direct) log2 changes
    sensitivity: np.ndarray  # (n_perts, n_cells) response scale of each perturbation per cell line
    saturation: np.ndarray | None = None  # (n_genes,) each gene's h_g scale; None: linear

    @property
    def n_genes(self) -> int:
        n_genes: int = self.loadings.shape[0]
        return n_genes

    def effects(self, perts: np.ndarray, genes: np.ndarray | None = None) -> np.ndarray:
        """(len(perts), len(genes)) full-response effects in log2 units; all genes by default.
        In a saturating world, the mean over the L1000 cell lines of what a full response adds
        to each line's state."""
        genes = np.arange(self.n_genes) if genes is None else np.asarray(genes)
        out = self._module_shift(perts, genes)
        if self.saturation is not None:
            states = self.cell_states @ self.loadings[genes].T.astype(np.float64)
            total = np.zeros_like(out)
            for u in states:  # one cell line at a time: a large world has 30
                total += self._saturated(u + out, genes) - self._saturated(u, genes)
            out = total / len(states)
        self._add_direct(out, perts, genes)
        return out

    def _module_shift(self, perts: np.ndarray, genes: np.ndarray) -> NDArray[np.float64]:
        shift: NDArray[np.float64] = self.pert_modules[perts] @ self.loadings[genes].T.astype(
            np.float64
        )
        return shift

    def _add_direct(
        self, out: np.ndarray, perts: np.ndarray, genes: np.ndarray, scale: np.ndarray | None = None
    ) -> None:
        """Adds each perturbation's direct gene changes (times `scale`, one per row) to `out`."""
        lookup = np.full(self.n_genes, -1)
        lookup[genes] = np.arange(len(genes))
        cols = lookup[self.pert_direct_genes[perts]]
        rows = np.broadcast_to(np.arange(len(perts))[:, None], cols.shape)
        keep = cols >= 0
        values = self.pert_direct_values[perts]
        if scale is not None:
            values = values * scale[:, None]
        np.add.at(out, (rows[keep], cols[keep]), values[keep])

    def _saturated(self, u: np.ndarray, genes: np.ndarray) -> NDArray[np.float64]:
        assert self.saturation is not None
        scale = self.saturation[genes]
        bounded: NDArray[np.float64] = scale * np.tanh(u / scale)
        return bounded

    def response(
        self, perts: np.ndarray, cells: np.ndarray, doses_um: np.ndarray, times_h: np.ndarray
    ) -> np.ndarray:
        """How much of each perturbation's full effect a sample shows, (n,); 0 for controls (-1)."""
        table = self.perturbations
        treated = perts >= 0
        p = np.where(treated, perts, 0)
        ec50 = table["ec50_um"].to_numpy()[p]
        hill = table["hill"].to_numpy()[p]
        dosed = np.where(np.isnan(doses_um), 1.0, doses_um**hill / (doses_um**hill + ec50**hill))
        timed = 1.0 - np.exp(-times_h / table["tau_h"].to_numpy()[p])
        return np.where(treated, self.sensitivity[p, cells] * dosed * timed, 0.0)

    def expression(
        self,
        z: np.ndarray,
        offsets: np.ndarray,
        perts: np.ndarray,
        response: np.ndarray,
        genes: np.ndarray,
        rng: np.random.Generator,
        noise_sd: float = 0.15,
    ) -> np.ndarray:
        """True log2 expression (n, len(genes)) of samples with module activities z (n, K). In a
        saturating world a perturbation's modules move the sample's state before h_g, and its
        direct genes add after."""
        treated = np.flatnonzero(perts >= 0)
        if self.saturation is None:
            x = self.baseline[genes] + z @ self.loadings[genes].T + offsets
            if len(treated):
                x[treated] += response[treated, None] * self.effects(perts[treated], genes)
        else:
            u = z @ self.loadings[genes].T.astype(np.float64)
            direct = np.zeros((len(treated), len(genes)))
            if len(treated):
                u[treated] += response[treated, None] * self._module_shift(perts[treated], genes)
                self._add_direct(direct, perts[treated], genes, scale=response[treated])
            x = self.baseline[genes] + self._saturated(u, genes) + offsets
            x[treated] += direct
        expression: NDArray[np.float64] = x + rng.normal(0.0, noise_sd, size=x.shape)
        return expression


def make_biology(config: WorldConfig, universe: GeneUniverse, rng: np.random.Generator) -> Biology:
    n_genes, k = universe.n_genes, config.n_modules
    coding = universe.genes["biotype"].to_numpy() == "protein-coding"
    baseline = np.where(coding, rng.normal(3.0, 2.6, n_genes), rng.normal(-3.6, 2.5, n_genes))
    baseline[universe.landmark_index] = rng.normal(6.0, 1.4, len(universe.landmark_index))
    loadings = np.zeros((n_genes, k), dtype=np.float32)
    for slot in range(config.modules_per_gene):
        modules = rng.integers(0, k, n_genes)
        loadings[np.arange(n_genes), modules] += rng.normal(0.0, 0.65 / (1 + slot), n_genes)
    cells = CELL_LINES[: config.n_cell_lines]
    perts = _perturbations(config, universe, rng)
    n_perts = len(perts)
    pert_modules, direct_genes, direct_values = _effects(config, universe, perts, loadings, rng)
    sensitivity = np.exp(rng.normal(0.0, 0.35, (n_perts, len(cells))))
    resistant = rng.random((n_perts, len(cells))) < 0.25
    sensitivity[resistant & (perts["pert_type"].to_numpy() == "trt_cp")[:, None]] *= 0.15
    biology = Biology(
        baseline=baseline,
        loadings=loadings,
        cell_ids=cells,
        cell_states=rng.normal(0.0, 1.0, (len(cells), k)),
        cell_offsets=rng.laplace(0.0, 0.45, (len(cells), n_genes)).astype(np.float32),
        tissue_states=rng.normal(0.0, 1.2, (config.n_tissues, k)),
        tissue_offsets=rng.laplace(0.0, 0.55, (config.n_tissues, n_genes)).astype(np.float32),
        perturbations=perts,
        pert_modules=pert_modules,
        pert_direct_genes=direct_genes,
        pert_direct_values=direct_values,
        sensitivity=sensitivity,
    )
    if config.saturation <= 0:
        return biology
    # drawn after everything else, so that the other draws are the linear world's
    scales = config.saturation * np.exp(rng.normal(0.0, SATURATION_SPREAD, n_genes))
    return replace(biology, saturation=scales)


def _perturbations(
    config: WorldConfig, universe: GeneUniverse, rng: np.random.Generator
) -> pd.DataFrame:
    n_cp, n_ko = config.n_compounds, config.n_knockouts
    moa = np.arange(n_cp) // config.compounds_per_moa
    compounds = pd.DataFrame(
        {
            "pert_id": [f"BRD-W{i + 1:08d}" for i in range(n_cp)],
            "pert_iname": [f"cmpd-{i + 1:04d}" for i in range(n_cp)],
            "pert_type": "trt_cp",
            "moa": [f"moa-{m + 1:03d}" for m in moa],
            "target_gene": "",
            "ec50_um": np.exp(rng.uniform(np.log(0.02), np.log(3.0), n_cp)),
            "hill": rng.uniform(0.8, 2.0, n_cp),
            "tau_h": rng.uniform(2.0, 12.0, n_cp),
            "potency": np.where(rng.random(n_cp) < 0.25, 0.15, 1.0),  # a quarter are near inert
        }
    )
    expressed = np.flatnonzero(universe.genes["biotype"].to_numpy() == "protein-coding")
    landmark_targets = rng.choice(universe.landmark_index, n_ko // 3, replace=False)
    other = np.setdiff1d(expressed, universe.landmark_index)
    other_targets = rng.choice(other, n_ko - len(landmark_targets), replace=False)
    targets = np.concatenate([landmark_targets, other_targets])
    symbols = universe.genes["symbol"].to_numpy()[targets]
    knockouts = pd.DataFrame(
        {
            "pert_id": [f"XPR-{s}" for s in symbols],
            "pert_iname": symbols,
            "pert_type": "trt_xpr",
            "moa": "knockout",
            "target_gene": symbols,
            "ec50_um": 1.0,
            "hill": 1.0,
            "tau_h": rng.uniform(24.0, 48.0, n_ko),
            "potency": 1.0,
        }
    )
    table = pd.concat([compounds, knockouts], ignore_index=True)
    table["target_index"] = np.concatenate([np.full(n_cp, -1), targets])
    return table


def _effects(
    config: WorldConfig,
    universe: GeneUniverse,
    perts: pd.DataFrame,
    loadings: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_perts, k, n_genes = len(perts), config.n_modules, universe.n_genes
    n_moa = perts["moa"].nunique()
    moa_modules = np.zeros((n_moa, k))
    for row in moa_modules:
        row[rng.choice(k, MOA_MODULES, replace=False)] = rng.normal(0.0, 3.5, MOA_MODULES)
    moa_genes = rng.integers(0, n_genes, (n_moa, DIRECT_GENES))
    moa_values = rng.normal(0.0, 1.6, (n_moa, DIRECT_GENES))
    moa_code = pd.factorize(perts["moa"])[0]
    modules = moa_modules[moa_code] + rng.normal(0.0, 0.3, (n_perts, k))
    # a shared stress response: most active compounds slow proliferation (module 0) to some degree
    modules[:, STRESS_MODULE] -= np.abs(rng.normal(1.0, 0.8, n_perts))
    genes = moa_genes[moa_code].copy()
    values = moa_values[moa_code] + rng.normal(0.0, 0.3, (n_perts, DIRECT_GENES))
    own = rng.random((n_perts, DIRECT_GENES)) < 0.25  # a quarter of a compound's genes are its own
    genes[own] = rng.integers(0, n_genes, own.sum())
    if config.landmark_regulators > 0:
        modules *= 1.0 - config.landmark_regulators
        more_genes, more_values = _regulated(config, universe, n_moa, rng)
        genes = np.concatenate([genes, more_genes[moa_code]], axis=1)
        values = np.concatenate([values, more_values[moa_code]], axis=1)
    is_ko = perts["pert_type"].to_numpy() == "trt_xpr"
    target = perts["target_index"].to_numpy()
    modules[is_ko] = -0.5 * loadings[target[is_ko]] + rng.normal(0.0, 0.15, (is_ko.sum(), k))
    genes[is_ko, KO_DIRECT_GENES:] = target[is_ko, None]
    values[is_ko, KO_DIRECT_GENES:] = 0.0
    values[is_ko, KO_DIRECT_GENES] = config.ko_target_log2
    n_ko = int(is_ko.sum())  # each knock-out moves its own few genes a little
    genes[is_ko, :KO_DIRECT_GENES] = rng.integers(0, n_genes, (n_ko, KO_DIRECT_GENES))
    values[is_ko, :KO_DIRECT_GENES] = rng.normal(0.0, 0.5, (n_ko, KO_DIRECT_GENES))
    scale = perts["potency"].to_numpy()[:, None] * config.effect_scale
    return modules * scale, genes, values * scale


def _regulated(
    config: WorldConfig, universe: GeneUniverse, n_moa: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per mechanism: REGULATORS landmark genes it moves directly, each moving its own
    TARGETS genes (weights N(0, 0.7)): the share `landmark_regulators` of the effect that the
    modules gave up. (genes, values), (n_moa, REGULATORS * (1 + TARGETS)) each."""
    share = config.landmark_regulators
    regulators = rng.choice(universe.landmark_index, (n_moa, REGULATORS))
    moved = rng.normal(0.0, 3.0 * share, (n_moa, REGULATORS))
    targets = rng.integers(0, universe.n_genes, (n_moa, REGULATORS, TARGETS))
    weights = rng.normal(0.0, 0.7, (n_moa, REGULATORS, TARGETS))
    genes = np.concatenate([regulators, targets.reshape(n_moa, -1)], axis=1)
    values = np.concatenate([moved, (moved[:, :, None] * weights).reshape(n_moa, -1)], axis=1)
    return genes, values
