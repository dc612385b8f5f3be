"""Training samples/s of both steps, against the matmul floor measured in the same run.

For each step and layer-size set (the paper's, and the demo preset's), one optimization step on a
batch of 100 random profiles is timed with the training code itself (`CycleGanStep`: both
generators, both discriminators, the replay buffers; for step 2 the extrapolator's MSE step with
Adam and weight decay), the best of three runs. The baseline is the FLOP floor: torch's FLOP
counter gives the matmul FLOPs of one step (forward and backward), and a large float32 matmul
measured just before each row gives the machine's GFLOP/s; "of floor" is the measured rate over
the rate that matmul speed would allow (1.0 = every FLOP at matmul speed). Rows for a GPU run the
same code on CUDA when torch sees one, and read "not measured (no GPU lent)" otherwise.

Run: python -m benchmarks.train [--seconds 3] [--sizes paper,demo,demo-mlp]
[--steps cyclegan,extrapolator] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import best_time, machine, markdown
from transform.models import (
    Extrapolator,
)
from transform.train.config import (
    DEMO_CYCLEGAN,
    DEMO_EXTRAPOLATOR,
    DEMO_MLP_EXTRAPOLATOR,
    CycleGanTrainConfig,
    ExtrapolatorTrainConfig,
)
from transform.train.cyclegan import CycleGan, CycleGanStep

BATCH = 100  # the paper's batch, both steps
PAPER_GENES = (962, 23_614)  # input landmarks, output genes (the paper's data)
DEMO_GENES = (931, 23_650)  # the demo world's gene spaces
PAPER_PROFILES = 50_000  # profiles (step 1) or samples (step 2) per epoch in the paper
PAPER_EPOCHS = 100
Step = Callable[[], None]


def cyclegan_step(config: CycleGanTrainConfig, n_genes: int, device: torch.device) -> Step:
    """One training step of step 1 on random (BATCH, n_genes) L1000 and RNA-seq batches."""
    torch.manual_seed(0)
    gan = CycleGan(n_genes, config).to(device).train()
    step = CycleGanStep(gan, config, device)
    real_a = 4.0 + 11.0 * torch.rand(BATCH, n_genes, device=device)
    real_b = 4.5 * torch.rand(BATCH, n_genes, device=device)
    return lambda: step(real_a, real_b)


def extrapolator_step(
    config: ExtrapolatorTrainConfig, genes: tuple[int, int], device: torch.device
) -> Step:
    """One training step of step 2 (MSE, Adam with weight decay) on a random batch."""
    torch.manual_seed(0)
    model = Extrapolator(*genes, config.model).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    inputs = 4.5 * torch.rand(BATCH, genes[0], device=device)
    targets = 4.5 * torch.rand(BATCH, genes[1], device=device)

    def run() -> None:
        loss = F.mse_loss(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def step_flops(step: Step) -> int:
    """Matmul FLOPs of one step, forward and backward, by torch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def steps_per_second(step: Step, device: torch.device, *, seconds: float) -> float:
    """Steps/s: after two warm-up steps, the best of three runs of k steps, k chosen so that a
    run lasts about seconds / 3 (the best run is the one least disturbed on a shared machine)."""
    started = time.perf_counter()
    for _ in range(2):
        step()
    _synchronize(device)
    per_step = (time.perf_counter() - started) / 2
    k = max(1, round(seconds / 3 / per_step))

    def run() -> None:
        for _ in range(k):
            step()
        _synchronize(device)

    return k / best_time(run, repeats=3)


def matmul_gflops(device: torch.device, size: int) -> float:
    """float32 GFLOP/s of a (size x size) @ (size x size) matmul, the best of three."""
    a = torch.rand(size, size, device=device)
    b = torch.rand(size, size, device=device)

    def run() -> None:
        torch.mm(a, b)
        _synchronize(device)

    run()
    return 2 * size**3 / best_time(run, repeats=3) / 1e9


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


MLP = DEMO_MLP_EXTRAPOLATOR  # the demo preset without the linear path (preset demo-mlp)


def configurations(sizes: list[str], steps: list[str]) -> list[tuple[str, str, Callable]]:
    """(step name, sizes name, make(device) -> Step) for every asked combination."""
    paper_gan, paper_ex = CycleGanTrainConfig(), ExtrapolatorTrainConfig()
    table = {
        ("cyclegan", "paper"): lambda d: cyclegan_step(paper_gan, PAPER_GENES[0], d),
        ("cyclegan", "demo"): lambda d: cyclegan_step(DEMO_CYCLEGAN, DEMO_GENES[0], d),
        ("extrapolator", "paper"): lambda d: extrapolator_step(paper_ex, PAPER_GENES, d),
        ("extrapolator", "demo"): lambda d: extrapolator_step(DEMO_EXTRAPOLATOR, DEMO_GENES, d),
        ("extrapolator", "demo-mlp"): lambda d: extrapolator_step(MLP, DEMO_GENES, d),
    }
    return [(step, size, table[step, size]) for step in steps for size in sizes]


def layer_text(step: str, size: str) -> str:
    if step == "cyclegan":
        config = CycleGanTrainConfig() if size == "paper" else DEMO_CYCLEGAN
        genes = PAPER_GENES[0] if size == "paper" else DEMO_GENES[0]
        g, d = config.generator, config.discriminator
        widths = "-".join(map(str, (*g.hidden, g.bottleneck)))
        return f"{genes} genes, G {widths}, D {'-'.join(map(str, d.hidden))}"
    config = {
        "paper": ExtrapolatorTrainConfig(),
        "demo": DEMO_EXTRAPOLATOR,
        "demo-mlp": DEMO_MLP_EXTRAPOLATOR,
    }[size]
    genes = PAPER_GENES if size == "paper" else DEMO_GENES
    linear = " + linear path" if config.model.linear else ""
    return f"{genes[0]}-{'-'.join(map(str, config.model.hidden))}-{genes[1]}{linear}"


def measure(device: torch.device, configs: list, *, seconds: float, matmul_size: int) -> list:
    """One row per configuration; the matmul speed is measured again just before each row, so
    that rate and floor see the same load on a shared machine."""
    rows = []
    for step, size, make in configs:
        run = make(device)
        flops = step_flops(run)
        peak = matmul_gflops(device, matmul_size)
        rate = steps_per_second(run, device, seconds=seconds) * BATCH
        floor = peak * 1e9 / (flops / BATCH)
        rows.append(_row(step, size, _where(device), rate, flops / BATCH, peak, floor))
        del run
    return rows


def _where(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda"
    threads = torch.get_num_threads()
    return f"cpu, {threads} thread" + ("" if threads == 1 else "s")


def _row(step, size, where, rate, flops_per_sample, peak, floor) -> dict[str, object]:
    hours = PAPER_EPOCHS * PAPER_PROFILES / rate / 3600 if rate else float("nan")
    return {
        "step": "1 CycleGAN" if step == "cyclegan" else "2 extrapolator",
        "sizes": f"{size}: {layer_text(step, size)}",
        "device": where,
        "samples/s": rate,
        "GFLOP/sample": flops_per_sample / 1e9,
        "GFLOP/s": rate * flops_per_sample / 1e9,
        "matmul GFLOP/s": peak,
        "floor samples/s": floor,
        "of floor": rate / floor,
        "100 epochs x 50,000 (h)": hours,
    }


def not_measured(configs: list) -> list[dict[str, object]]:
    text = "not measured (no GPU lent)"
    return [
        {
            "step": "1 CycleGAN" if step == "cyclegan" else "2 extrapolator",
            "sizes": f"{size}: {layer_text(step, size)}",
            "device": "cuda",
            "samples/s": text,
            "GFLOP/sample": "",
            "GFLOP/s": "",
            "matmul GFLOP/s": "",
            "floor samples/s": "",
            "of floor": "",
            "100 epochs x 50,000 (h)": "",
        }
        for step, size, _ in configs
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per row, at least")
    parser.add_argument("--sizes", default="paper,demo,demo-mlp")
    parser.add_argument("--steps", default="cyclegan,extrapolator")
    parser.add_argument("--matmul-size", type=int, default=2048, help="CPU matmul side")
    parser.add_argument(
        "--threads", help="torch CPU thread counts to measure, e.g. 1,2 (default: 1 and torch's)"
    )
    args = parser.parse_args(argv)
    default = torch.get_num_threads()
    threads = [int(t) for t in args.threads.split(",")] if args.threads else [1, default]
    configs = configurations(args.sizes.split(","), args.steps.split(","))
    rows = []
    for count in dict.fromkeys(threads):
        torch.set_num_threads(count)
        rows += measure(
            torch.device("cpu"), configs, seconds=args.seconds, matmul_size=args.matmul_size
        )
    torch.set_num_threads(default)
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        rows += measure(gpu, configs, seconds=args.seconds, matmul_size=8192)
        where = torch.cuda.get_device_name(gpu)
    else:
        rows += not_measured(configs)
        where = "no GPU"
    print(
        f"Training benchmark on {machine()}; {where}; "
        f"batch {BATCH}, float32; samples/s = profiles (step 1: one L1000 and one RNA-seq "
        f"profile per sample) through one full optimization step\n"
    )
    print(markdown(rows))


if __name__ == "__main__":
    main()
