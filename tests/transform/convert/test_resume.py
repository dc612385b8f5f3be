"""Stopped at any point (killed in a subprocess, failed, stopped between its last steps), the
same command finishes the job: the output's checksum is an uninterrupted run's, the chunks
recorded before are kept (not converted again) and no chunk is lost or recorded twice."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from itertools import count
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO
from tests.transform.convert.helpers import (
    DEVICES,
    Stopped,
    convert,
    convert_command,
    leave_unfinished,
    manifest_of,
    stop,
    subprocess_env,
    write_level3,
)
from transform.cli import main as transform_main
from transform.convert import ConvertOptions, convert_profiles, run
from transform.convert.compute import ChunkModel
from transform.convert.job import WorkFolder
from transform.convert.output import OutputFile

KILL_PROFILES, KILL_CHUNK = 6000, 20  # 300 chunks of a few ms each: time to kill the run mid-way


def wait_for_records(
    work: WorkFolder, process: subprocess.Popen, *, at_least: int, timeout_s: float = 90
) -> None:
    """Until the running conversion has recorded `at_least` chunks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if work.done.exists() and len(list(work.done.glob("*.json"))) >= at_least:
            return
        if process.poll() is not None:
            output = process.communicate()
            pytest.fail(f"the conversion ended before it could be killed: {output}")
        time.sleep(0.005)
    pytest.fail(f"no {at_least} chunks recorded in {timeout_s} s")


def recorded_checksums(work: WorkFolder) -> dict[int, str]:
    return {index: record.sha256 for index, record in work.read_records(work.load_job()).items()}


def test_a_run_killed_mid_way_finishes_with_the_checksum_of_an_uninterrupted_run(
    small_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_level3(tmp_path / "level3.gctx", n_profiles=KILL_PROFILES)
    reference = convert(small_bundle, source, tmp_path / "reference.gctx", chunk_size=KILL_CHUNK)
    output = tmp_path / "profiles.gctx"
    work = WorkFolder.beside(output)
    command = convert_command(small_bundle, source, output, "--chunk-size", str(KILL_CHUNK))
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=subprocess_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_records(work, process, at_least=5)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL
    before = recorded_checksums(work)
    n_chunks = KILL_PROFILES // KILL_CHUNK
    assert 5 <= len(before) < n_chunks
    assert not output.exists()

    assert transform_main(["convert", *command[command.index("--checkpoint") :]]) == 0  # again
    resumed = capsys.readouterr()
    assert f"resuming: {len(before)} of {n_chunks} chunks done" in resumed.err
    left = KILL_PROFILES - KILL_CHUNK * len(before)
    assert f"converted {left:,} of {KILL_PROFILES:,} profiles" in resumed.out
    assert f"{len(before)} chunks were done before" in resumed.out
    manifest = manifest_of(output)
    assert manifest["checksum"] == reference.manifest["checksum"]
    entries = manifest["chunks"]["checksums"]
    assert [entry["index"] for entry in entries] == list(range(n_chunks))
    assert all(entries[index]["sha256"] == sha256 for index, sha256 in before.items())
    assert not work.path.exists()


@pytest.mark.parametrize("device", DEVICES)
def test_a_run_that_failed_part_way_converts_only_the_chunks_left(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    reference = convert(
        small_bundle, level3, tmp_path / "reference.gctx", chunk_size=100, device=device
    )
    output = tmp_path / "profiles.gctx"
    forward, calls = ChunkModel.forward, count()

    def failing_at_the_ninth_chunk(self: ChunkModel, inputs: torch.Tensor) -> torch.Tensor:
        if next(calls) == 8:
            raise RuntimeError("the device went away")
        return forward(self, inputs)

    with monkeypatch.context() as patched:
        patched.setattr(ChunkModel, "forward", failing_at_the_ninth_chunk)
        with pytest.raises(RuntimeError, match="the device went away"):
            convert(small_bundle, level3, output, chunk_size=100, device=device)
    work = WorkFolder.beside(output)
    done = recorded_checksums(work)
    assert 1 <= len(done) <= 8  # the ninth chunk needs a buffer that a recorded chunk freed
    assert set(done) <= set(range(8))  # on a GPU two writers may record out of order
    summary = convert(small_bundle, level3, output, chunk_size=100, device=device)
    assert (summary.chunks_before, summary.converted) == (len(done), 2000 - 100 * len(done))
    assert summary.manifest["checksum"] == reference.manifest["checksum"]


def test_a_chunk_whose_bytes_differ_from_its_record_is_converted_again(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = convert(small_bundle, level3, tmp_path / "reference.gctx", chunk_size=250)
    output = tmp_path / "profiles.gctx"
    work = leave_unfinished(monkeypatch, small_bundle, level3, output, chunk_size=250)
    stored = OutputFile(work.partial)
    try:
        os.pwrite(
            stored.fd,
            np.zeros(250 * 50, np.float32).tobytes(),
            stored.offset + 3 * 250 * stored.profile_bytes,
        )
    finally:
        stored.close()
    notes = io.StringIO()
    summary = convert_profiles(
        checkpoint=small_bundle,
        input=level3,
        output=output,
        options=ConvertOptions(chunk_size=250, device="cpu"),
        stream=notes,
    )
    assert "chunks 3 differ from their records: converting again" in notes.getvalue()
    assert (summary.chunks_before, summary.converted) == (7, 250)
    assert summary.manifest["checksum"] == reference.manifest["checksum"]


def test_a_run_stopped_after_renaming_its_output_finishes_without_converting(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = convert(small_bundle, level3, tmp_path / "reference.gctx", chunk_size=500)
    output = tmp_path / "profiles.gctx"
    with monkeypatch.context() as patched:
        patched.setattr(run, "_move_into_place", stop)
        with pytest.raises(Stopped):
            convert(small_bundle, level3, output, chunk_size=500)
    assert output.exists()
    assert not output.with_suffix(".json").exists()
    summary = convert(small_bundle, level3, output, chunk_size=500)
    assert summary.converted == 0
    assert manifest_of(output)["checksum"] == reference.manifest["checksum"]
    assert not WorkFolder.beside(output).path.exists()


def test_a_work_folder_left_after_the_manifest_moved_is_cleared(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "profiles.gctx"
    with monkeypatch.context() as patched:
        patched.setattr(run.shutil, "rmtree", stop)
        with pytest.raises(Stopped):
            convert(small_bundle, level3, output, chunk_size=500)
    manifest = manifest_of(output)
    assert WorkFolder.beside(output).exists()
    with pytest.raises(FileExistsError, match="pass --force"):
        convert(small_bundle, level3, output, chunk_size=500)
    assert not WorkFolder.beside(output).path.exists()
    assert manifest_of(output) == manifest
