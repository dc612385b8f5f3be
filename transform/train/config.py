"""Training configs: frozen, saved in every checkpoint; the paper's values are the defaults.

Presets: `paper` (the defaults) and `demo` (small layers, few epochs and the choices beyond the
paper that the generated worlds need; the demo world trains in about 1.5 + 2.5 minutes on one CPU
thread; see docs/training.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from transform.frozen import FrozenConfig
from transform.models import DiscriminatorConfig, ExtrapolatorConfig, GeneratorConfig

RNASEQ_SAMPLES = ("all", "l1000_cell_lines")


@dataclass(frozen=True)
class DataConfig(FrozenConfig):
    """Which profiles and samples are drawn, and how; `seed` fixes the draws."""

    max_l1000_profiles: int = 50_000
    max_rnaseq_samples: int = 50_000
    min_reads: int = 1_000_000  # keep RNA-seq samples with more reads than this ...
    max_series_samples: int = 200  # ... from GEO series of fewer samples than this
    gene_filter_samples: int = 10_000  # random samples that decide the output genes
    gene_min_reads: int = 10  # output genes: more than this many reads ...
    gene_min_fraction: float = 0.02  # ... in more than this fraction of those samples
    seed: int = 0
    chunk_samples: int = 500  # samples read and normalized at once (bounds memory)


@dataclass(frozen=True)
class CycleGanTrainConfig(FrozenConfig):
    """Step 1: the modified CycleGAN (L1000 landmarks -> RNA-seq landmarks), unpaired."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 100
    batch_size: int = 100
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-5
    lr_step_epochs: int = 50
    lr_gamma: float = 0.1
    cycle_weight: float = 10.0
    identity_weight: float = 0.0
    replay_size: int = 50
    # RNA-seq samples of domain B: "all" drawn samples (paper), or "l1000_cell_lines": those whose
    # description names a cell line of the L1000 profiles (not in the paper; populations.py)
    rnaseq_samples: str = "all"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rnaseq_samples not in RNASEQ_SAMPLES:
            raise ValueError(
                f"rnaseq_samples {self.rnaseq_samples!r}: choose one of {', '.join(RNASEQ_SAMPLES)}"
            )


@dataclass(frozen=True)
class ExtrapolatorTrainConfig(FrozenConfig):
    """Step 2: the extrapolator (RNA-seq landmarks -> all output genes), on RNA-seq alone."""

    model: ExtrapolatorConfig = field(default_factory=ExtrapolatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 100
    batch_size: int = 100
    lr: float = 2e-4
    weight_decay: float = 1e-4
    lr_step_epochs: int = 10
    lr_gamma: float = 0.5
    patience: int = 3  # early stopping: epochs without a validation gain ...
    min_delta: float = 1e-4  # ... of at least this much
    split: tuple[int, int, int] = (49_000, 500, 500)  # train, validation, test at full size
    start_at_mean: bool = False  # output layer starts at the mean training profile (not in paper)
    seed: int = 0


# The demo preset: small layers and few epochs, and four choices beyond the paper that the demo
# and small worlds need (docs/training.md): per-gene z-scores in both networks, a generator that
# starts as per-gene moment matching (skip, identity weight 5 as in the paper's earlier runs),
# domain B restricted to the RNA-seq samples of the L1000 cell lines, and the extrapolator's fixed
# linear (ridge) path, which keeps the differences within a plate (the perturbation signal).
DEMO_CYCLEGAN = CycleGanTrainConfig(
    generator=GeneratorConfig(hidden=(256, 256), bottleneck=64, standardized=True, skip=True),
    discriminator=DiscriminatorConfig(hidden=(256, 128, 64)),
    epochs=30,
    lr_step_epochs=20,
    identity_weight=5.0,
    rnaseq_samples="l1000_cell_lines",
)
DEMO_EXTRAPOLATOR = ExtrapolatorTrainConfig(
    model=ExtrapolatorConfig(hidden=(256, 512, 1024), standardized=True, linear=True),
    epochs=40,
    lr=1e-3,
    start_at_mean=True,
)
# The demo preset before the linear path (its network alone maps the differences within a plate
# onto a few directions: docs/training.md, signature level), kept to report beside it.
DEMO_MLP_EXTRAPOLATOR = replace(
    DEMO_EXTRAPOLATOR, model=replace(DEMO_EXTRAPOLATOR.model, linear=False)
)
PRESETS: dict[str, tuple[CycleGanTrainConfig, ExtrapolatorTrainConfig]] = {
    "paper": (CycleGanTrainConfig(), ExtrapolatorTrainConfig()),
    "demo": (DEMO_CYCLEGAN, DEMO_EXTRAPOLATOR),
    "demo-mlp": (DEMO_CYCLEGAN, DEMO_MLP_EXTRAPOLATOR),
}


def cyclegan_preset(name: str) -> CycleGanTrainConfig:
    return _preset(name)[0]


def extrapolator_preset(name: str) -> ExtrapolatorTrainConfig:
    return _preset(name)[1]


def _preset(name: str) -> tuple[CycleGanTrainConfig, ExtrapolatorTrainConfig]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def split_sizes(n_samples: int, full: tuple[int, int, int] = (49_000, 500, 500)) -> tuple[int, ...]:
    """(train, validation, test) sizes: the paper's split, scaled down for smaller collections.

    Validation and test keep their share of the full split (1% each of 50,000), but at least 50
    samples each, or 5% each where 50 would be more than that.
    """
    total = sum(full)
    held = [
        max(round(n_samples * size / total), min(50, -(-n_samples * 5 // 100))) for size in full[1:]
    ]
    if n_samples >= total:
        held = list(full[1:])
    train = n_samples - sum(held)
    if train < 1 or min(held) < 1:
        raise ValueError(f"{n_samples} samples are too few for a train/validation/test split")
    return (train, *held)


_Config = TypeVar("_Config", CycleGanTrainConfig, ExtrapolatorTrainConfig)


def with_data(config: _Config, **changes: Any) -> _Config:
    """The config with fields of its data config changed."""
    return replace(config, data=replace(config.data, **changes))
