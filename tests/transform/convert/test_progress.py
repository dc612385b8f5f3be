"""The progress line (profiles/s of this run, time left) and the command's final summary line."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.transform.convert.helpers import manifest_of
from transform.cli import main as transform_main
from transform.convert import progress as progress_module
from transform.convert.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


def test_the_progress_line_counts_this_runs_rate_and_the_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_module, "time", clock)
    stream = io.StringIO()
    progress = Progress(1000, done=200, stream=stream)  # 200 done by an earlier run
    clock.now += 2.0
    progress.advance(300)
    clock.now += 0.5
    progress.advance(100)  # within a second of the last line: not shown
    clock.now += 1.5
    progress.advance(400)  # the last profiles: always shown
    assert stream.getvalue().splitlines() == [
        "convert: 500/1,000 profiles (50.0%), 150 profiles/s, 0:00:03 left",
        "convert: 1,000/1,000 profiles (100.0%), 200 profiles/s, 0:00:00 left",
    ]


def test_the_command_ends_with_a_summary_line(
    level3: Path, small_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "profiles.gctx"
    arguments = [
        "convert",
        "--checkpoint",
        str(small_bundle),
        "--input",
        str(level3),
        "--output",
        str(output),
        "--device",
        "cpu",
        "--chunk-size",
        "700",
    ]
    assert transform_main(arguments) == 0
    captured = capsys.readouterr()
    checksum = manifest_of(output)["checksum"]
    assert re.fullmatch(
        rf"converted 2,000 of 2,000 profiles in [\d.]+ s \([\d,]+ profiles/s\) into "
        rf"{re.escape(str(output))}, checksum {checksum}\n",
        captured.out,
    )
    assert "convert: 2,000/2,000 profiles (100.0%)" in captured.err
