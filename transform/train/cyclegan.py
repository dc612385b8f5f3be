"""Step 1: the modified CycleGAN, L1000 landmarks (domain A) <-> RNA-seq landmarks (domain B).

Losses as the paper: least-squares adversarial terms (MSE against 1 for real, 0 for fake), Smooth
L1 cycle terms with weight 10, MSE identity terms (weight 0 by default, then not computed, as in
the CycleGAN reference implementation), each discriminator trained on real profiles and on fakes
drawn from a replay buffer of 50. Adam (lr 2e-4, betas 0.9/0.999, weight decay 1e-5) for the two
generators together and for the two discriminators together; lr x0.1 every 50 epochs.

An epoch walks max(n_A, n_B) // batch batches: both domains are shuffled (seeded by epoch) and
cycled, unpaired, as the reference implementation's unaligned data set does.

Options beyond the paper (docs/training.md): standardized generators train on per-gene z-scores
(each domain's training means and SDs, saved in the generators as buffers); the losses and the
discriminators then work on z-scores, and the identity terms compare z-scores (one scale). Domain
B can be restricted to the RNA-seq samples of the L1000 profiles' cell lines (`rnaseq_samples`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transform.models import Discriminator, Generator
from transform.train.checkpoint import make_deterministic, resolve_device
from transform.train.config import CycleGanTrainConfig
from transform.train.moments import gene_moments
from transform.train.prepare import PreparedData
from transform.train.session import ProgressLine, Session, format_losses, open_run, run_epochs

LOSSES = ("loss_G", "adversarial", "cycle", "identity", "loss_D_A", "loss_D_B")


class ReplayBuffer:
    """The reference implementation's image pool, for profiles.

    Until it holds `capacity` fakes, every fake is stored and returned. Then each fake, with
    probability 1/2, replaces a random stored one, which is returned in its place; otherwise it is
    returned as it is. So the discriminator sees a mix of new fakes and older ones.
    """

    def __init__(
        self, capacity: int = 50, *, seed: int | list[int] = 0, device: torch.device | None = None
    ) -> None:
        self.capacity = capacity
        self.device = device or torch.device("cpu")
        self.stored: list[torch.Tensor] = []
        self.rng = np.random.default_rng(seed)

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """(batch, n_genes) fakes -> (batch, n_genes) profiles for the discriminator."""
        if self.capacity == 0:
            return fakes
        chosen = []
        for fake in fakes.detach().clone():
            if len(self.stored) < self.capacity:
                self.stored.append(fake)
                chosen.append(fake)
            elif self.rng.uniform() > 0.5:
                at = int(self.rng.integers(0, self.capacity))
                chosen.append(self.stored[at])
                self.stored[at] = fake
            else:
                chosen.append(fake)
        return torch.stack(chosen)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.stored) if self.stored else torch.empty(0)
        return {"stored": stored.cpu(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stored = list(state["stored"].to(self.device))
        self.rng.bit_generator.state = state["rng"]


class CycleGan(nn.Module):
    """The four networks: G_AB (L1000 -> RNA-seq), G_BA, and a discriminator per domain."""

    def __init__(self, n_genes: int, config: CycleGanTrainConfig) -> None:
        super().__init__()
        self.G_AB = Generator(n_genes, config.generator)
        self.G_BA = Generator(n_genes, config.generator)
        self.D_A = Discriminator(n_genes, config.discriminator)
        self.D_B = Discriminator(n_genes, config.discriminator)

    def generators(self) -> Iterable[nn.Parameter]:
        return itertools.chain(self.G_AB.parameters(), self.G_BA.parameters())

    def discriminators(self) -> Iterable[nn.Parameter]:
        return itertools.chain(self.D_A.parameters(), self.D_B.parameters())


def adversarial_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN: MSE of the discriminator's scores against 1 (real) or 0 (fake)."""
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def generator_losses(
    gan: CycleGan, real_a: torch.Tensor, real_b: torch.Tensor, config: CycleGanTrainConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """(total, parts, fake_A, fake_B): mean adversarial + 10 x mean cycle + w_id x mean identity.

    All on the generators' training scale (`Generator.core`): values as they are, or z-scores."""
    g_ab, g_ba = gan.G_AB.core, gan.G_BA.core
    fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    adversarial = (
        adversarial_loss(gan.D_B(fake_b), True) + adversarial_loss(gan.D_A(fake_a), True)
    ) / 2
    cycle = (F.smooth_l1_loss(g_ba(fake_b), real_a) + F.smooth_l1_loss(g_ab(fake_a), real_b)) / 2
    identity = torch.zeros((), device=real_a.device)
    if config.identity_weight > 0:
        identity = (F.mse_loss(g_ab(real_b), real_b) + F.mse_loss(g_ba(real_a), real_a)) / 2
    total = adversarial + config.cycle_weight * cycle + config.identity_weight * identity
    parts = {"adversarial": adversarial, "cycle": cycle, "identity": identity}
    return total, parts, fake_a, fake_b


def discriminator_loss(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    return (
        adversarial_loss(discriminator(real), True) + adversarial_loss(discriminator(fake), False)
    ) / 2


class _AdamOptions(TypedDict):
    lr: float
    betas: tuple[float, float]
    weight_decay: float


class CycleGanStep:
    """One optimization step on a batch of each domain: generators first, then discriminators."""

    def __init__(self, gan: CycleGan, config: CycleGanTrainConfig, device: torch.device) -> None:
        self.gan, self.config = gan, config
        adam: _AdamOptions = {
            "lr": config.lr,
            "betas": config.betas,
            "weight_decay": config.weight_decay,
        }
        self.optimizer_G = torch.optim.Adam(gan.generators(), **adam)
        self.optimizer_D = torch.optim.Adam(gan.discriminators(), **adam)
        self.schedulers = [
            torch.optim.lr_scheduler.StepLR(opt, config.lr_step_epochs, gamma=config.lr_gamma)
            for opt in (self.optimizer_G, self.optimizer_D)
        ]
        self.replay_A = ReplayBuffer(config.replay_size, seed=[config.seed, 1], device=device)
        self.replay_B = ReplayBuffer(config.replay_size, seed=[config.seed, 2], device=device)

    def __call__(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, float]:
        gan = self.gan
        gan.D_A.requires_grad_(False)
        gan.D_B.requires_grad_(False)
        loss_g, parts, fake_a, fake_b = generator_losses(gan, real_a, real_b, self.config)
        self.optimizer_G.zero_grad(set_to_none=True)
        loss_g.backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward unannotated
        self.optimizer_G.step()
        gan.D_A.requires_grad_(True)
        gan.D_B.requires_grad_(True)
        loss_d_a = discriminator_loss(gan.D_A, real_a, self.replay_A.query(fake_a.detach()))
        loss_d_b = discriminator_loss(gan.D_B, real_b, self.replay_B.query(fake_b.detach()))
        self.optimizer_D.zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()  # type: ignore[no-untyped-call]  # as above
        self.optimizer_D.step()
        values = {"loss_G": loss_g, **parts, "loss_D_A": loss_d_a, "loss_D_B": loss_d_b}
        return {name: float(value.detach()) for name, value in values.items()}

    def parts(self) -> dict[str, Any]:
        return {
            "G_AB": self.gan.G_AB,
            "G_BA": self.gan.G_BA,
            "D_A": self.gan.D_A,
            "D_B": self.gan.D_B,
            "optimizer_G": self.optimizer_G,
            "optimizer_D": self.optimizer_D,
            "scheduler_G": self.schedulers[0],
            "scheduler_D": self.schedulers[1],
            "replay_A": self.replay_A,
            "replay_B": self.replay_B,
        }


def training_domains(
    data: PreparedData, config: CycleGanTrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(A, B): the L1000 profiles (n_a, n_genes) and the RNA-seq landmark profiles (n_b, n_genes)
    of step 1, float32, with B restricted as `config.rnaseq_samples` asks."""
    a = np.array(data.l1000, dtype=np.float32)
    b = np.array(data.rnaseq_inputs, dtype=np.float32)
    if config.rnaseq_samples == "l1000_cell_lines":
        keep = np.array([bool(cell) for cell in data.rnaseq_cell_lines], dtype=bool)
        if len(keep) != len(b) or keep.sum() < config.batch_size:
            raise ValueError(
                f"{int(keep.sum())} RNA-seq samples name a cell line of the L1000 profiles "
                f"({', '.join(data.l1000_cell_lines) or 'none known'}); step 1 needs at least "
                f"a batch ({config.batch_size}); use rnaseq_samples='all'"
            )
        b = b[keep]
    return a, b


def standardize_domains(
    gan: CycleGan, profiles: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Give both generators the domains' scales; returns both domains as z-scores (float32)."""
    (mean_a, sd_a), (mean_b, sd_b) = (gene_moments(x) for x in profiles)
    gan.G_AB.set_scales(mean_a, sd_a, mean_b, sd_b)
    gan.G_BA.set_scales(mean_b, sd_b, mean_a, sd_a)
    return tuple(
        ((x - mean) / sd).astype(np.float32)
        for x, mean, sd in zip(profiles, (mean_a, mean_b), (sd_a, sd_b), strict=True)
    )


def epoch_batches(
    n_a: int, n_b: int, batch: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, ...]]:
    """Index pairs (A batch, B batch) of one epoch: both domains shuffled and cycled."""
    size = min(batch, max(n_a, n_b))
    n_batches = max(n_a, n_b) // size
    streams = [_cycled(n, n_batches * size, rng) for n in (n_a, n_b)]
    return [tuple(s[i * size : (i + 1) * size] for s in streams) for i in range(n_batches)]


def _cycled(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    rounds = -(-length // n)
    return np.concatenate([rng.permutation(n) for _ in range(rounds)])[:length]


def train_cyclegan(
    config: CycleGanTrainConfig,
    data: PreparedData,
    run_dir: Path,
    *,
    device: str = "cpu",
    resume: bool = False,
    until_epoch: int | None = None,
    progress: ProgressLine | None = None,
) -> Path:
    """Train (or resume) step 1 into run_dir; returns the checkpoint path."""
    saved = open_run(run_dir, kind="cyclegan", resume=resume)
    where = resolve_device(device)
    make_deterministic(config.seed)
    gan = CycleGan(len(data.input_genes), config).to(where)
    step = CycleGanStep(gan, config, where)
    session = Session(
        "cyclegan", config, step.parts(), data.genes_state(), data.manifest, device=str(where)
    )
    profiles = training_domains(data, config)
    if config.generator.standardized:
        profiles = standardize_domains(gan, profiles)
    if saved is not None:
        session.restore(saved)
    domains = [torch.from_numpy(x).to(where) for x in profiles]
    line = progress or ProgressLine("cyclegan")

    def train_epoch(epoch: int) -> dict[str, float]:
        gan.train()
        rng = np.random.default_rng([config.seed, 0, epoch])
        batches = epoch_batches(len(domains[0]), len(domains[1]), config.batch_size, rng)
        totals, seen, started = dict.fromkeys(LOSSES, 0.0), 0, time.perf_counter()
        lr = step.optimizer_G.param_groups[0]["lr"]
        for at, (a, b) in enumerate(batches, 1):
            losses = step(domains[0][torch.from_numpy(a)], domains[1][torch.from_numpy(b)])
            totals = {k: totals[k] + losses[k] * len(a) for k in LOSSES}
            seen += len(a)
            rate = seen / (time.perf_counter() - started)
            line.update(
                f"epoch {epoch}/{config.epochs} [{at}/{len(batches)}] "
                f"{format_losses(losses)}  {rate:,.0f} samples/s"
            )
        for scheduler in step.schedulers:
            scheduler.step()
        seconds = time.perf_counter() - started
        means = {k: v / seen for k, v in totals.items()}
        line.done(
            f"epoch {epoch}/{config.epochs} {format_losses(means)}  {seen / seconds:,.0f} samples/s"
        )
        return {**means, "lr": lr, "samples_per_s": seen / seconds, "seconds": seconds}

    return run_epochs(session, run_dir, train_epoch, epochs=config.epochs, until_epoch=until_epoch)
