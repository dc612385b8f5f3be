"""The networks: paper shapes, the standardized and skip options, presets true to the paper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transform.models import (
    Discriminator,
    Extrapolator,
    ExtrapolatorConfig,
    Generator,
    GeneratorConfig,
)
from transform.train.config import CycleGanTrainConfig, cyclegan_preset, extrapolator_preset
from transform.train.populations import l1000_cell_lines, named_cell_lines


def test_the_paper_networks_have_the_papers_layers_and_shapes() -> None:
    torch.manual_seed(0)
    generator, discriminator = Generator(962), Discriminator(962)
    extrapolator = Extrapolator(962, 23_614)
    linear = [m for m in generator.net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [
        (962, 512),
        (512, 512),
        (512, 128),
        (128, 128),
        (128, 128),
        (128, 512),
        (512, 512),
        (512, 962),
    ]
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 4
    assert not any(m.affine for m in norms)
    batch = torch.rand(5, 962) * 10 + 4
    assert generator(batch).shape == (5, 962)
    assert generator(batch).min() >= 0
    assert discriminator(batch).shape == (5, 1)
    sizes = [m.out_features for m in extrapolator.net if isinstance(m, torch.nn.Linear)]
    assert sizes == [2048, 4096, 8192, 23_614]
    n_weights = sum(p.numel() for p in extrapolator.parameters())
    # 237 M weights: 0.24 G multiply-adds per profile (the paper's "about 0.3 GFLOP")
    assert (
        n_weights
        == 962 * 2048 + 2048 * 4096 + 4096 * 8192 + 8192 * 23_614 + 2048 + 4096 + 8192 + 23_614
    )


def test_a_standardized_skip_generator_starts_as_per_gene_moment_matching() -> None:
    config = GeneratorConfig(hidden=(16,), bottleneck=4, standardized=True, skip=True)
    generator = Generator(6, config).eval()
    rng = np.random.default_rng(0)
    mean_a, sd_a = rng.uniform(4, 12, 6), rng.uniform(0.5, 2, 6)
    mean_b, sd_b = rng.uniform(1, 3, 6), rng.uniform(0.2, 0.6, 6)
    generator.set_scales(mean_a, sd_a, mean_b, sd_b)
    profiles = rng.uniform(4, 12, (10, 6))
    expected = np.maximum((profiles - mean_a) / sd_a * sd_b + mean_b, 0)
    got = generator(torch.from_numpy(profiles.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert set(generator.state_dict()) >= {"input_mean", "input_sd", "output_mean", "output_sd"}


def test_a_skip_connection_needs_standardized_values() -> None:
    with pytest.raises(ValueError, match="standardized"):
        GeneratorConfig(skip=True)


def test_a_standardized_extrapolator_z_scores_its_inputs() -> None:
    torch.manual_seed(0)
    plain = Extrapolator(4, 7, ExtrapolatorConfig(hidden=(8, 8, 8)))
    torch.manual_seed(0)
    scaled = Extrapolator(4, 7, ExtrapolatorConfig(hidden=(8, 8, 8), standardized=True))
    mean, sd = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 1.0, 2.0, 4.0])
    scaled.set_scales(mean, sd)
    x = torch.rand(3, 4) * 5
    z = (x - torch.tensor(mean, dtype=torch.float32)) / torch.tensor(sd, dtype=torch.float32)
    torch.testing.assert_close(scaled(x), plain(z))


def test_the_extrapolator_loss_falls_on_a_small_batch() -> None:
    torch.manual_seed(0)
    model = Extrapolator(10, 30, ExtrapolatorConfig(hidden=(32, 32, 32)))
    x, y = torch.rand(20, 10), torch.rand(20, 30) + 1
    model.start_at(y.mean(dim=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(100):
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_the_paper_preset_is_the_papers_configuration() -> None:
    step1, step2 = cyclegan_preset("paper"), extrapolator_preset("paper")
    assert step1 == CycleGanTrainConfig()
    assert (step1.generator.hidden, step1.generator.bottleneck) == ((512, 512), 128)
    assert not step1.generator.standardized
    assert step1.discriminator.hidden == (512, 512, 128)
    assert (step1.epochs, step1.batch_size, step1.lr, step1.betas) == (100, 100, 2e-4, (0.9, 0.999))
    assert (step1.weight_decay, step1.lr_step_epochs, step1.lr_gamma) == (1e-5, 50, 0.1)
    assert (step1.cycle_weight, step1.identity_weight, step1.replay_size) == (10.0, 0.0, 50)
    assert step1.rnaseq_samples == "all"
    assert step2.model.hidden == (2048, 4096, 8192)
    assert not step2.model.standardized
    assert (step2.epochs, step2.batch_size, step2.lr, step2.weight_decay) == (100, 100, 2e-4, 1e-4)
    assert (step2.lr_step_epochs, step2.lr_gamma, step2.patience, step2.min_delta) == (
        10,
        0.5,
        3,
        1e-4,
    )
    assert step2.split == (49_000, 500, 500)
    assert step1.data.max_l1000_profiles == step1.data.max_rnaseq_samples == 50_000


def test_rnaseq_descriptions_are_matched_to_l1000_cell_lines_by_token() -> None:
    cells = l1000_cell_lines(["MCF7", "A375", "-666", "", "MCF7", "PC3"])
    assert cells == ["A375", "MCF7", "PC3"]
    descriptions = [
        "MCF-7 cells treated with DMSO",
        "cell line: a375; time: 24 h",
        "tissue-12 state: tissue-12",
        "PC3M-LN4 xenograft",  # another line whose name starts like PC3
        "HEK293T",
        "",
    ]
    assert named_cell_lines(descriptions, cells) == ["MCF7", "A375", "", "", "", ""]
    assert named_cell_lines(["NT2 cells"], ["NT2", "A"]) == ["NT2"]
    assert named_cell_lines(["A cells"], ["A"]) == [""]  # names under 3 characters never match
