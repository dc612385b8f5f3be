"""The demo data for the browser tests, built once by the same commands as `make run`.

Training is cut to a few epochs (the pages, not the model, are under test here); every other step
is the demo pipeline's own: world, both trainings, bundle, convert, signatures, publish, the search
index, the database. Built under var/test-demo and reused while each step's stamp matches: the
stamp is keyed on the step's command and on the code that makes the artifacts (every .py file of
transform/ and search/, and the gene reference), so a change of that code builds them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DEMO_DIR = REPO / "var" / "test-demo"
EPOCHS = "2"


def steps(data: Path) -> list[list[str]]:
    world, model, sigs = data / "world", data / "model", data / "signatures"
    profiles, l1000 = str(data / "profiles.gctx"), world / "l1000"
    transform = [sys.executable, "-m", "transform"]
    manage = [sys.executable, "manage.py"]
    return [
        [*transform, "world", "--size", "demo", "--out", str(world), "--force"],
        [
            *transform,
            "train-cyclegan",
            "--world",
            str(world),
            "--out",
            str(model / "cyclegan"),
            "--preset",
            "demo",
            "--epochs",
            EPOCHS,
        ],
        [
            *transform,
            "train-extrapolator",
            "--world",
            str(world),
            "--out",
            str(model / "extrapolator"),
            "--preset",
            "demo",
            "--epochs",
            EPOCHS,
        ],
        [
            *transform,
            "bundle",
            "--cyclegan",
            str(model / "cyclegan" / "checkpoint.pt"),
            "--extrapolator",
            str(model / "extrapolator" / "checkpoint.pt"),
            "--out",
            str(model / "model.pt"),
        ],
        [
            *transform,
            "convert",
            "--checkpoint",
            str(model / "model.pt"),
            "--input",
            str(l1000 / "level3.gctx"),
            "--out",
            profiles,
            "--force",
        ],
        [
            *transform,
            "signatures",
            "--profiles",
            profiles,
            "--inst-info",
            str(l1000 / "inst_info.txt"),
            "--sig-info",
            str(l1000 / "sig_info.txt"),
            "--out",
            str(sigs),
        ],
        [
            *transform,
            "publish",
            "--signatures",
            str(sigs),
            "--profiles",
            profiles,
            "--inst-info",
            str(l1000 / "inst_info.txt"),
            "--model",
            str(model / "model.pt"),
            "--out",
            str(data / "downloads"),
        ],
        [*manage, "migrate", "--noinput", "-v", "0"],
        [*manage, "load_genes", "-v", "0"],
        [*manage, "build_search_index", "--signatures", str(sigs)],
    ]


def demo_environment(data: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DEBUG="1",
        DATA_DIR=str(data),
        DJANGO_SETTINGS_MODULE="portal.settings",
        CELERY_BROKER_URL="",
        OMP_WAIT_POLICY="PASSIVE",
    )
    return env


def code_digest() -> str:
    """SHA-256 over the code and reference data that make the demo artifacts."""
    digest = hashlib.sha256()
    files = [
        *sorted((REPO / "transform").rglob("*.py")),
        *sorted((REPO / "search").rglob("*.py")),
        *sorted((REPO / "search" / "reference").rglob("*.*")),
    ]
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def step_key(command: list[str], code: str) -> str:
    return hashlib.sha256(json.dumps([code, *command[1:]]).encode()).hexdigest()[:16]


def build_demo(data: Path = DEMO_DIR) -> Path:
    """Run the steps not yet done (a stamp per step), so an interrupted build resumes."""
    code = code_digest()
    if not (data / f".code-{code[:16]}").exists():  # other code made what is there: start afresh
        shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    (data / f".code-{code[:16]}").touch()
    env = demo_environment(data)
    for number, command in enumerate(steps(data)):
        key = step_key(command, code)
        stamp = data / f".step-{number:02d}-{key}"
        if stamp.exists():
            continue
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"demo step {' '.join(command[1:4])} failed:\n{result.stderr[-3000:]}"
            )
        stamp.touch()
    return data
