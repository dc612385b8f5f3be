"""The container files, checked against the project (Docker itself does not run here)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest
import yaml
from django.core.management import get_commands

from tests.conftest import REPO

DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
BUILT = {name: spec for name, spec in SERVICES.items() if "build" in spec}
SETTINGS_TEXT = (REPO / "portal" / "settings.py").read_text()


def _dockerfile(name: str) -> str:
    return (REPO / SERVICES[name]["build"]["dockerfile"]).read_text()


def _json_cmd(text: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", text)
    match = re.search(r"^CMD (\[.*\])$", joined, re.MULTILINE)
    return yaml.safe_load(match.group(1))


def test_every_service_builds_from_a_dockerfile_of_the_repository() -> None:
    assert set(BUILT) == {"migrate", "web", "worker", "gpu-worker"}
    for spec in BUILT.values():
        assert (
            REPO / spec["build"]["context"].replace("..", ".")
        ).resolve() == REPO.parent / REPO.name
        assert (REPO / spec["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("name", sorted(BUILT))
def test_every_copied_path_exists(name: str) -> None:
    for line in re.findall(r"^COPY (.+)$", _dockerfile(name), re.MULTILINE):
        *sources, _target = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"{name}: COPY {source}"


@pytest.mark.parametrize("name", sorted(BUILT))
def test_the_extras_installed_are_declared(name: str) -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra in re.findall(r"'\.\[(\w+)\]'", _dockerfile(name)):
        assert extra in extras


@pytest.mark.parametrize("name", ["web", "worker", "gpu-worker"])
def test_the_command_names_a_module_and_app_that_exist(name: str) -> None:
    command = _json_cmd(_dockerfile(name))
    if command[0] == "gunicorn":
        module, attribute = command[1].split(":")
        assert callable(getattr(importlib.import_module(module), attribute))
        config = command[command.index("-c") + 1].removeprefix("python:")
        assert callable(importlib.import_module(config).post_worker_init)
    else:
        assert command[:2] == ["celery", "-A"]
        app = importlib.import_module(command[2])
        assert hasattr(app, "app") or hasattr(app, "celery_app") or hasattr(app, "worker")


def test_the_migrate_service_runs_management_commands_that_exist() -> None:
    script = SERVICES["migrate"]["command"][-1]
    commands = [shlex.split(part)[2] for part in script.split("&&")]
    assert commands == ["migrate", "load_genes"]
    assert set(commands) <= set(get_commands())


def test_every_variable_the_services_set_is_read_by_the_settings() -> None:
    environment = COMPOSE["x-portal-env"]
    for variable in environment:
        assert f'"{variable}"' in SETTINGS_TEXT, variable
    readme = (DOCKER / "README.md").read_text()
    for variable in re.findall(r'env_\w+\(\s*"(\w+)"', SETTINGS_TEXT):
        assert f"`{variable}`" in readme, f"{variable} is not documented in docker/README.md"


def test_services_wait_for_what_they_need_and_share_the_data_volume() -> None:
    for name in ("web", "worker", "gpu-worker"):
        assert (
            SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
        assert "data:/data" in SERVICES[name]["volumes"]
    assert (
        SERVICES["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"]
        == "nvidia"
    )


def test_the_example_environment_commits_no_secret() -> None:
    """Every variable of docker/env.example whose name says it holds a secret is left empty."""
    values = dict(
        line.split("=", 1)
        for line in (DOCKER / "env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    secrets = {
        name: value
        for name, value in values.items()
        if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN"))
    }
    assert "SECRET_KEY" in secrets
    assert {name: value.strip() for name, value in secrets.items() if value.strip()} == {}


def test_the_web_image_installs_no_torch() -> None:
    """The web image's extras (and the base dependencies) hold neither torch nor matplotlib."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = re.findall(r"'\.\[([\w,]+)\]'", _dockerfile("web"))
    assert extras, "the web image installs the project with an extra"
    wanted = list(project["dependencies"])
    for extra in ",".join(extras).split(","):
        wanted += project["optional-dependencies"][extra]
    names = {re.split(r"[<>=\[ ]", requirement)[0].lower() for requirement in wanted}
    assert not names & {"torch", "matplotlib", "faiss-gpu"}, names
    installs = re.findall(r"pip install[^\n]*", _dockerfile("web"))
    assert installs
    assert not any("torch" in line for line in installs), installs


def test_the_web_image_collects_static_files_as_they_are_served(tmp_path) -> None:
    """Its collectstatic runs with DEBUG off, as the pages do: the manifest storage writes
    staticfiles.json, without which every page that names a static file answers 500."""
    joined = re.sub(r"\\\n\s*", " ", _dockerfile("web"))
    line = next(part for part in joined.split("&&") if "manage.py collectstatic" in part)
    words = shlex.split(line.splitlines()[0])
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    assert "DEBUG" not in assignments
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **assignments,
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable, *words[words.index("python") + 1 :]]
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    assert "favicon.svg" in manifest["paths"]


def test_the_long_running_services_restart_and_the_web_health_check_names_a_served_host() -> None:
    for name in ("db", "redis", "web", "proxy", "worker", "gpu-worker"):
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "portal.healthcheck"]
    assert importlib.util.find_spec("portal.healthcheck") is not None
