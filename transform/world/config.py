"""The world's size and parameters: one frozen config, saved in the world's manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "search" / "reference" / "genes"

# Real L1000 cell lines (the CMap core lines first); a world uses the first n_cell_lines.
CELL_LINES = (
    "A375", "MCF7", "PC3", "A549", "HA1E", "HT29", "VCAP", "HEPG2", "HCC515", "NPC",
    "ASC", "PHH", "SKL", "YAPC", "HELA", "HEK293T", "JURKAT", "U2OS", "HUH7", "BT20",
    "MDAMB231", "SKBR3", "LNCAP", "DU145", "A673", "HL60", "THP1", "K562", "NCIH716", "PANC1",
)  # fmt: skip


@dataclass(frozen=True)
class WorldConfig:
    """Every number the generative model uses (docs/world.md explains each)."""

    size: str = "demo"
    seed: int = 0
    # gene universe: protein-coding genes plus lncRNA/ncRNA genes with an Ensembl ID
    n_noncoding_genes: int = 6000
    n_modules: int = 60
    modules_per_gene: int = 3
    # biology
    n_cell_lines: int = 2
    n_tissues: int = 40
    n_compounds: int = 58
    compounds_per_moa: int = 3
    n_knockouts: int = 44
    ko_target_log2: float = -3.0
    doses_um: tuple[float, ...] = (0.04, 0.12, 0.37, 1.11, 3.33, 10.0)
    compound_times_h: tuple[int, ...] = (24,)
    knockout_time_h: int = 96
    # L1000 plates: batches of replicate plates (_X1.._Xn) of 384 wells
    n_compound_batches: int = 2
    n_knockout_batches: int = 1
    replicate_plates: int = 3
    vehicle_wells: int = 32
    # RNA-seq collection (ARCHS4-like) and the paired set (GSE92743-like)
    n_rnaseq_samples: int = 1000
    n_paired_samples: int = 192
    median_library_size: float = 2.0e7
    # output chunking (columns per chunk) and storage
    chunk_profiles: int = 4096
    chunk_samples: int = 500
    # how hard the perturbation signal is to keep (SETTINGS; the defaults make the default world)
    setting: str = "default"
    effect_scale: float = 1.0  # every perturbation's effect (modules and direct genes) x this
    landmark_regulators: float = 0.0  # share of each effect carried by landmark regulators
    l1000_noise: float = 1.0  # L1000 measurement noise and plate offsets x this
    collection_cell_share: float = 0.3  # share of the RNA-seq collection from the L1000 lines
    saturation: float = 0.0  # > 0: genes' module parts saturate (biology.py); 0: linear

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


SIZES: dict[str, WorldConfig] = {
    "demo": WorldConfig(),
    "small": WorldConfig(
        size="small",
        n_cell_lines=8,
        n_compounds=300,
        n_knockouts=120,
        compound_times_h=(6, 24),
        n_compound_batches=20,
        n_knockout_batches=6,
        n_rnaseq_samples=10000,
        n_paired_samples=960,
    ),
    "large": WorldConfig(
        size="large",
        n_cell_lines=30,
        n_compounds=6000,
        n_knockouts=2000,
        compound_times_h=(6, 24),
        n_compound_batches=740,
        n_knockout_batches=128,
        n_rnaseq_samples=50000,
        n_paired_samples=2880,
        chunk_profiles=8192,
    ),
}


# Named settings (docs/world.md): each moves the world toward what makes keeping the perturbation
# signal hard. "hard" takes those four together. "saturating" asks something else: whether a
# linear map from the landmarks is still close to the best, when genes respond to their modules
# through a bounded curve.
SETTINGS: dict[str, dict[str, float]] = {
    "default": {},
    "regulators": {"landmark_regulators": 0.5},
    "weak": {"effect_scale": 0.5},
    "noisy": {"l1000_noise": 2.0},
    "few-cell-lines": {"collection_cell_share": 0.12},
    "saturating": {"saturation": 1.0},
    "hard": {
        "landmark_regulators": 0.5,
        "effect_scale": 0.5,
        "l1000_noise": 2.0,
        "collection_cell_share": 0.12,
    },
}


def world_config(
    size: str, *, seed: int = 0, setting: str = "default", **overrides: Any
) -> WorldConfig:
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {', '.join(SIZES)}")
    if setting not in SETTINGS:
        raise ValueError(f"unknown world setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    return replace(SIZES[size], seed=seed, setting=setting, **{**SETTINGS[setting], **overrides})
