"""The inference bundle: G_AB and the extrapolator in one self-contained file, with its manifest.

    model.pt    torch file: both networks' configs and weights (G_AB as trained to the last
                epoch, the extrapolator at its best validation epoch), both gene spaces, the
                L1000 symbol -> Entrez table, the normalization facts, versions, and the
                source checkpoints' SHA-256
    model.json  manifest: format version, gene spaces, shape, checksums, build parameters and
                measured quality (the extrapolator's test MSE)

The extrapolator's input genes must be the CycleGAN's (GeneSpaceMismatch otherwise), and both must
have been trained on the same normalization facts (one RNA-seq scale).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import torch

from transform.gene_space import GeneSpace
from transform.io.files import sha256_file
from transform.train.checkpoint import load_checkpoint, versions

BUNDLE_FORMAT = "lincs-transform-bundle"
FORMAT_VERSION = 1


def write_bundle(*, cyclegan: Path, extrapolator: Path, out: Path) -> dict[str, Any]:
    """Write `out` (model.pt) and its manifest `out` with .json; returns the manifest."""
    step1 = load_checkpoint(cyclegan, kind="cyclegan")
    step2 = load_checkpoint(extrapolator, kind="extrapolator")
    genes = _joined_genes(step1["genes"], step2["genes"])
    best = step2["state"]["early_stopping"]["best_state"] or step2["state"]["model"]
    sources = {"cyclegan": _source(cyclegan, step1), "extrapolator": _source(extrapolator, step2)}
    bundle = {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "two-step",
        "generator": {"config": step1["config"]["generator"], "state": step1["state"]["G_AB"]},
        "extrapolator": {"config": step2["config"]["model"], "state": best},
        "genes": genes,
        "sources": sources,
        "versions": versions(),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(out.name + ".tmp")
    torch.save(bundle, temp)
    os.replace(temp, out)
    manifest = _manifest(out, bundle, step1, step2)
    manifest_path = out.with_suffix(".json")
    manifest_path.with_name(manifest_path.name + ".tmp").write_text(json.dumps(manifest, indent=1))
    os.replace(manifest_path.with_name(manifest_path.name + ".tmp"), manifest_path)
    return manifest


def synthetic_world(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """The generated world (`transform world`: size, seed, setting) either step learnt from, or
    None: trained on real files (or on files prepared before worlds were marked)."""
    steps = bundle.get("sources", {}).values()
    return next((s["synthetic_world"] for s in steps if s.get("synthetic_world")), None)


def _joined_genes(step1: dict[str, Any], step2: dict[str, Any]) -> dict[str, Any]:
    inputs = GeneSpace.from_dict(step1["input_genes"])
    inputs.require_same(GeneSpace.from_dict(step2["input_genes"]), what="the extrapolator")
    scale1, scale2 = step1["normalization"]["checksum"], step2["normalization"]["checksum"]
    if scale1 != scale2:
        raise ValueError(
            "the two steps were trained on different RNA-seq normalization facts (checksums "
            f"{scale1[:12]} and {scale2[:12]}): prepare both from the same data and data config"
        )
    return {**step2, "input_gene_ids": step1["input_gene_ids"]}


def _source(path: Path, checkpoint: dict[str, Any]) -> dict[str, Any]:
    last = checkpoint["history"][-1] if checkpoint["history"] else {}
    return {
        "path": str(Path(path).resolve()),
        "sha256": sha256_file(path),
        "epoch": checkpoint["epoch"],
        "stopped_early": checkpoint["stopped"],
        "config": checkpoint["config"],
        "last_epoch": last,
        "results": checkpoint["results"],
        "data": checkpoint["data"].get("counts", {}),
        "synthetic_world": checkpoint["data"].get("synthetic_world"),
    }


def _manifest(
    out: Path, bundle: dict[str, Any], step1: dict[str, Any], step2: dict[str, Any]
) -> dict[str, Any]:
    genes = bundle["genes"]
    spaces = {name: GeneSpace.from_dict(genes[name]) for name in ("input_genes", "output_genes")}
    return {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "file": out.name,
        "bytes": out.stat().st_size,
        "sha256": sha256_file(out),
        "input_genes": spaces["input_genes"].summary(),
        "output_genes": spaces["output_genes"].summary(),
        "shape": {"inputs": len(spaces["input_genes"]), "outputs": len(spaces["output_genes"])},
        "normalization": {
            key: value
            for key, value in genes["normalization"].items()
            if key in ("method", "checksum")
        },
        "steps": bundle["sources"],
        "synthetic_world": synthetic_world(bundle),
        "quality": {"extrapolator_" + k: v for k, v in step2["results"].items()},
        "seeds": {"cyclegan": step1["seed"], "extrapolator": step2["seed"]},
        "versions": bundle["versions"],
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
