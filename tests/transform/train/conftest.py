"""A tiny world (one plate, 200 RNA-seq samples, 48 paired), its prepared data and tiny configs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from transform.models import DiscriminatorConfig, ExtrapolatorConfig, GeneratorConfig
from transform.train.config import CycleGanTrainConfig, DataConfig, ExtrapolatorTrainConfig
from transform.train.prepare import PreparedData, prepare_data
from transform.train.sources import Sources
from transform.world.config import world_config
from transform.world.generate import generate_world

TINY_WORLD = {
    "n_rnaseq_samples": 200,
    "n_paired_samples": 48,
    "chunk_samples": 100,
    "n_compound_batches": 1,
    "n_knockout_batches": 0,
    "replicate_plates": 1,
}
TINY_DATA = DataConfig(chunk_samples=100)
TINY_CYCLEGAN = CycleGanTrainConfig(
    generator=GeneratorConfig(hidden=(16,), bottleneck=8),
    discriminator=DiscriminatorConfig(hidden=(16, 8)),
    data=TINY_DATA,
    epochs=2,
    batch_size=32,
    lr_step_epochs=2,
    replay_size=8,
)
TINY_STANDARDIZED = replace(
    TINY_CYCLEGAN,
    generator=GeneratorConfig(hidden=(16,), bottleneck=8, standardized=True, skip=True),
    batch_size=16,
    identity_weight=5.0,
    rnaseq_samples="l1000_cell_lines",
)
TINY_EXTRAPOLATOR = ExtrapolatorTrainConfig(
    model=ExtrapolatorConfig(hidden=(8, 8, 16)),
    data=TINY_DATA,
    epochs=2,
    batch_size=64,
    lr_step_epochs=2,
    start_at_mean=True,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks on one thread: faster, and not slowed by other jobs on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny_world")
    config = world_config("demo", seed=3, **TINY_WORLD)
    generate_world(config, out, parts=("l1000", "rnaseq", "paired"), progress=lambda _: None)
    return out


@pytest.fixture(scope="session")
def prepared(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    folder = tmp_path_factory.mktemp("prepared") / "data"
    return prepare_data(Sources.from_world(tiny_world), TINY_DATA, folder, progress=lambda _: None)
