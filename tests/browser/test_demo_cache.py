"""The browser tests' demo artifacts are rebuilt when the code that makes them changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import demo


def test_a_change_of_the_code_changes_every_steps_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "transform").mkdir()
    (tmp_path / "search" / "reference").mkdir(parents=True)
    module = tmp_path / "transform" / "step.py"
    module.write_text("ANSWER = 1\n")
    monkeypatch.setattr(demo, "REPO", tmp_path)
    commands = demo.steps(tmp_path / "data")
    before = [demo.step_key(command, demo.code_digest()) for command in commands]
    module.write_text("ANSWER = 2\n")
    after = [demo.step_key(command, demo.code_digest()) for command in commands]
    assert all(b != a for b, a in zip(before, after, strict=True))
    again = [demo.step_key(command, demo.code_digest()) for command in commands]
    assert again == after  # the same code keeps its stamps: nothing is rebuilt for nothing
