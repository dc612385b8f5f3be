"""The architecture's import rules: the contracts of .importlinter (import-linter, module by
module, direct and indirect imports) hold, they name every module of the search app, and they
catch an offending import; and importing the light parts loads neither Django nor torch."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )


def _forbidden(contract: str) -> set[str]:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    return set(config[f"importlinter:contract:{contract}"]["forbidden_modules"].split())


def test_every_contract_is_kept() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("contract", ["transform", "engine"])
def test_the_contracts_name_every_module_of_the_search_app(contract: str) -> None:
    """A module added to the app is forbidden to transform and the engine only if listed."""
    app = {
        f"search.{path.stem}"
        for path in (REPO / "search").iterdir()
        if path.name != "engine"
        and not path.name.startswith(("_", "."))
        and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert app, "no module found in search/"
    assert app <= _forbidden(contract)


@pytest.mark.parametrize(
    ("where", "line", "broken"),
    [
        ("search/engine/probe.py", "import django\n", "search.engine.probe -> django"),
        (
            "search/engine/probe.py",
            "from search.models import Gene\n",
            "search.engine.probe -> search.models",
        ),
        ("search/selectors/probe.py", "import torch\n", "search.selectors.probe -> torch"),
        ("transform/probe.py", "from search.apis import genes\n", "transform.probe -> search.apis"),
    ],
)
def test_an_offending_import_breaks_a_contract(
    tmp_path: Path, where: str, line: str, broken: str
) -> None:
    for package in ("search", "transform", "portal"):
        shutil.copytree(
            REPO / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "reference"),
        )
    shutil.copy(REPO / ".importlinter", tmp_path)
    (tmp_path / where).write_text(line)
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert broken in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("transform", "django"),
        ("search.engine.genes", "django"),
        ("search.engine.gene_reference", "torch"),
        ("search.engine.index_state", "django"),
    ],
)
def test_importing_the_package_loads_none_of_them(module: str, forbidden: str) -> None:
    code = f"import sys, {module}; print({forbidden!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["publish", "world", "signatures"])
def test_a_light_command_loads_neither_torch_nor_matplotlib(command: str) -> None:
    """The web image has neither, and runs `python -m transform publish`: only the command asked
    for is imported."""
    code = (
        f"import sys\nfrom transform.cli import main\ntry:\n    main([{command!r}, '--help'])\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_the_web_process_loads_neither_torch_nor_matplotlib() -> None:
    code = (
        "import django, importlib, pkgutil, sys\ndjango.setup()\nimport search, portal.urls\n"
        "for m in pkgutil.walk_packages(search.__path__, 'search.'):\n"
        "    if m.name != 'search.engine.backends.torch_gpu':\n"
        "        importlib.import_module(m.name)\n"
        "print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"
