"""Model bundles with random weights, of any layer sizes, for tests and throughput benchmarks.

The conversion does not depend on training: a bundle written here loads with `TwoStepModel.load`
and converts like a trained one (same layers, gene spaces and normalization facts, in the format
of `transform.bundle`), only its values mean nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from transform.bundle import BUNDLE_FORMAT, FORMAT_VERSION
from transform.gene_space import GeneSpace
from transform.models import Extrapolator, ExtrapolatorConfig, Generator, GeneratorConfig
from transform.rnaseq import Normalization
from transform.train.checkpoint import versions


def write_random_bundle(
    path: Path,
    *,
    input_genes: Sequence[str],
    output_genes: Sequence[str],
    input_gene_ids: Mapping[str, int | None] | None = None,
    generator: GeneratorConfig | None = None,
    extrapolator: ExtrapolatorConfig | None = None,
    seed: int = 0,
) -> Path:
    """A two-step bundle with PyTorch's default initialization drawn from `seed` (paper layer
    sizes unless configs are given); input_gene_ids: symbol -> Entrez id for `align_inputs`."""
    inputs = GeneSpace("input", tuple(input_genes))
    outputs = GeneSpace("output", tuple(output_genes))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        step1 = Generator(len(inputs), generator)
        step2 = Extrapolator(len(inputs), len(outputs), extrapolator)
    reference = np.linspace(0.0, 4.5, len(outputs))  # ascending, the model's scale
    genes = {
        "input_genes": inputs.to_dict(),
        "output_genes": outputs.to_dict(),
        "input_gene_ids": dict(input_gene_ids or {}),
        "normalization": Normalization(outputs, reference).to_dict(),
    }
    bundle = {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "two-step",
        "generator": {"config": step1.config.as_dict(), "state": step1.state_dict()},
        "extrapolator": {"config": step2.config.as_dict(), "state": step2.state_dict()},
        "genes": genes,
        "sources": {"random": {"seed": seed}},
        "versions": versions(),
    }
    path = Path(path)
    temp = path.with_name(path.name + ".tmp")
    torch.save(bundle, temp)
    os.replace(temp, path)
    return path
