"""transform/ never imports Django nor the portal (the search engine's numerics, search.engine,
which import neither, it may: the signature-level evaluation searches with them); search/engine/
imports neither Django nor torch."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

RULES = {"transform": {"django", "rest_framework", "search", "portal"},
         "search/engine": {"django", "rest_framework", "torch", "portal"}}  # fmt: skip
ALLOWED = {"transform": ("search.engine",), "search/engine": ()}


def _imported_roots(path: Path, allowed: tuple[str, ...] = ()) -> set[str]:
    """The top-level packages a module imports, leaving out the modules under `allowed`."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        kept = [name for name in names if not any(f"{name}.".startswith(f"{a}.") for a in allowed)]
        roots.update(name.split(".")[0] for name in kept)
    return roots


@pytest.mark.parametrize(("package", "forbidden"), RULES.items())
def test_no_module_imports_what_its_package_must_not(package: str, forbidden: set[str]) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, package
    allowed = ALLOWED[package]
    offenders = {str(f.relative_to(REPO)): _imported_roots(f, allowed) & forbidden for f in files}
    assert {f: roots for f, roots in offenders.items() if roots} == {}


def test_the_rule_checker_sees_an_offending_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom django.db import models\nimport torch.nn as nn\n")
    assert _imported_roots(module) == {"os", "django", "torch"}
    module.write_text("from search.engine.index import SearchIndex\nfrom search.gpu import x\n")
    assert _imported_roots(module, ("search.engine",)) == {"search"}


@pytest.mark.parametrize(("module", "forbidden"),
                         [("transform", "django"), ("search.engine.genes", "django"),
                          ("search.engine.gene_reference", "torch"),
                          ("search.engine.index_state", "django")])  # fmt: skip
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
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_the_web_process_loads_neither_torch_nor_matplotlib() -> None:
    code = (
        "import django, importlib, pkgutil, sys\ndjango.setup()\nimport search, portal.urls\n"
        "for m in pkgutil.walk_packages(search.__path__, 'search.'):\n"
        "    if m.name != 'search.gpu':\n        importlib.import_module(m.name)\n"
        "print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=True, env=env)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False False"
