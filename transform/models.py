"""The two networks of the paper: a fully connected CycleGAN (step 1) and the extrapolator (step 2).

Layer sizes come from frozen configs whose defaults are the paper's; `from_dict` rebuilds a config
from a checkpoint. Every network takes a batch of profiles (n_profiles, n_genes) float32 and
returns (n_profiles, n_out).

Two generator options are not in the paper (both off by default, on in the demo preset; see
docs/training.md): `standardized` (the network works on per-gene z-scores; the input and output
scales are buffers saved with the weights, so the generator still maps Level 3 values to RNA-seq
values) and `skip` (output = input + network, in z-scores: the generator starts as the per-gene
moment-matching map and learns corrections to it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from transform.frozen import FrozenConfig


@dataclass(frozen=True)
class GeneratorConfig(FrozenConfig):
    """Encoder widths (decoder mirrors them) and the bottleneck that holds the residual block."""

    hidden: tuple[int, ...] = (512, 512)
    bottleneck: int = 128
    standardized: bool = False  # per-gene z-scores in and out (not in the paper)
    skip: bool = (
        False  # z-scores out = z-scores in + network (not in the paper; needs standardized)
    )

    def __post_init__(self) -> None:
        if self.skip and not self.standardized:
            raise ValueError("a generator skip connection needs standardized=True (one scale)")


@dataclass(frozen=True)
class DiscriminatorConfig(FrozenConfig):
    hidden: tuple[int, ...] = (512, 512, 128)


@dataclass(frozen=True)
class ExtrapolatorConfig(FrozenConfig):
    hidden: tuple[int, ...] = (2048, 4096, 8192)
    standardized: bool = False  # inputs as per-gene z-scores of the training samples (not in paper)
    linear: bool = False  # a fixed linear path (ridge) beside the network, which learns the rest


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(Linear(x))), width kept."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body: torch.Tensor = self.body(x)
        return x + body


def _dense_bn_relu(widths: list[int]) -> list[nn.Module]:
    """Linear, BatchNorm1d without affine, ReLU for each consecutive pair of `widths`."""
    layers: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [
            nn.Linear(width_in, width_out),
            nn.BatchNorm1d(width_out, affine=False),
            nn.ReLU(),
        ]
    return layers


class Generator(nn.Module):
    """n -> 512 -> 512 -> 128, residual block, 128 -> 512 -> 512 -> n, final ReLU (paper sizes).

    Hidden layers: Linear, BatchNorm1d(affine=False), ReLU. Outputs are non-negative.

    `core` is the network on its training scale: the values as they are (paper), or per-gene
    z-scores (`standardized`), where the final ReLU moves behind the output scale. `forward`
    always maps profiles of one domain to the other's values.
    """

    # buffers of a standardized generator (register_buffer)
    input_mean: torch.Tensor
    input_sd: torch.Tensor
    output_mean: torch.Tensor
    output_sd: torch.Tensor

    def __init__(self, n_genes: int, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        encoder = [n_genes, *self.config.hidden]
        decoder = [self.config.bottleneck, *reversed(self.config.hidden)]
        layers = [
            *_dense_bn_relu(encoder),
            nn.Linear(encoder[-1], self.config.bottleneck),
            ResidualBlock(self.config.bottleneck),
            *_dense_bn_relu(decoder),
        ]
        last = nn.Linear(decoder[-1], n_genes)  # made last: the seeded initial weights hold
        layers.append(last)
        if self.config.skip:  # start as the identity on z-scores
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        if not self.config.standardized:
            layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        if self.config.standardized:
            for name, value in (("input_mean", 0.0), ("input_sd", 1.0)):
                self.register_buffer(name, torch.full((n_genes,), value))
            for name, value in (("output_mean", 0.0), ("output_sd", 1.0)):
                self.register_buffer(name, torch.full((n_genes,), value))

    def set_scales(
        self,
        input_mean: ArrayLike,
        input_sd: ArrayLike,
        output_mean: ArrayLike,
        output_sd: ArrayLike,
    ) -> None:
        """Per-gene (n_genes,) means and SDs of the input and the output domain."""
        if not self.config.standardized:
            raise ValueError("only a standardized generator has scales")
        values = {
            "input_mean": input_mean,
            "input_sd": input_sd,
            "output_mean": output_mean,
            "output_sd": output_sd,
        }
        with torch.no_grad():
            for name, value in values.items():
                getattr(self, name).copy_(torch.as_tensor(np.asarray(value, dtype=np.float32)))

    def core(self, values: torch.Tensor) -> torch.Tensor:
        """The network on its training scale (z-scores when standardized)."""
        out: torch.Tensor = self.net(values)
        return values + out if self.config.skip else out

    def forward(self, profiles: torch.Tensor) -> torch.Tensor:
        if not self.config.standardized:
            return self.core(profiles)
        z = (profiles - self.input_mean) / self.input_sd
        return torch.relu(self.core(z) * self.output_sd + self.output_mean)


def _dense_relu(widths: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    return layers


class Discriminator(nn.Module):
    """n -> 512 -> 512 -> 128 -> 1 with ReLUs; no sigmoid (least-squares GAN)."""

    def __init__(self, n_genes: int, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorConfig()
        widths = [n_genes, *self.config.hidden]
        self.net = nn.Sequential(*_dense_relu(widths), nn.Linear(widths[-1], 1))

    def forward(self, profiles: torch.Tensor) -> torch.Tensor:
        scores: torch.Tensor = self.net(profiles)
        return scores


class Extrapolator(nn.Module):
    """n_inputs -> 2048 -> 4096 -> 8192 -> n_outputs, ReLU after every layer (output included).

    With `linear` (not in the paper): output = ReLU(linear(x) + network(x)), the network without
    its final ReLU. The linear path is a ridge regression fitted in closed form before training
    (`set_linear`) and kept fixed; the network learns what it leaves. A linear map carries the
    small differences between profiles of one plate (a perturbation's signature) through to every
    gene, where a network fitted to the variation between samples maps them onto a few generic
    directions (docs/training.md, signature level).
    """

    # buffers of a standardized extrapolator (register_buffer)
    input_mean: torch.Tensor
    input_sd: torch.Tensor

    def __init__(
        self, n_inputs: int, n_outputs: int, config: ExtrapolatorConfig | None = None
    ) -> None:
        super().__init__()
        self.config = config or ExtrapolatorConfig()
        layers = _dense_relu([n_inputs, *self.config.hidden, n_outputs])
        if self.config.linear:
            layers = layers[:-1]  # the ReLU comes after the sum of both paths
            self.linear = nn.Linear(n_inputs, n_outputs)
            self.linear.requires_grad_(False)
        self.net = nn.Sequential(*layers)
        if self.config.standardized:
            self.register_buffer("input_mean", torch.zeros(n_inputs))
            self.register_buffer("input_sd", torch.ones(n_inputs))

    def set_scales(self, input_mean: ArrayLike, input_sd: ArrayLike) -> None:
        """Per-gene (n_inputs,) means and SDs of the training inputs."""
        if not self.config.standardized:
            raise ValueError("only a standardized extrapolator has scales")
        with torch.no_grad():
            for name, value in (("input_mean", input_mean), ("input_sd", input_sd)):
                getattr(self, name).copy_(torch.as_tensor(np.asarray(value, dtype=np.float32)))

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        if self.config.standardized:
            landmarks = (landmarks - self.input_mean) / self.input_sd
        if self.config.linear:
            return torch.relu(self.linear(landmarks) + self.net(landmarks))
        network: torch.Tensor = self.net(landmarks)
        return network

    @torch.no_grad()
    def set_linear(self, coef: ArrayLike, intercept: ArrayLike) -> None:
        """The linear path: coef (n_inputs, n_outputs) and intercept (n_outputs,) on the inputs
        the network sees (z-scores when standardized); the network's output layer starts at 0."""
        self.linear.weight.copy_(torch.as_tensor(np.asarray(coef, dtype=np.float32).T))
        self.linear.bias.copy_(torch.as_tensor(np.asarray(intercept, dtype=np.float32)))
        output = self.net[-1]
        assert isinstance(output, nn.Linear)  # the network's output layer (no final ReLU)
        output.weight.zero_()
        output.bias.zero_()

    @torch.no_grad()
    def start_at(self, profile: torch.Tensor, weight_scale: float = 0.1) -> None:
        """Start from `profile` (n_outputs,): output bias set to it, output weights scaled down.

        With few samples, the default initialization leaves many output units below zero, where
        the final ReLU passes no gradient; starting at the mean profile avoids that.
        """
        output = self.net[-2]
        assert isinstance(output, nn.Linear)  # the output layer, before the final ReLU
        output.bias.copy_(profile)
        output.weight.mul_(weight_scale)
