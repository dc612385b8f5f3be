"""Imported by a test's shard worker (`celery worker -I tests.portal.slow_shard`): each shard
summary it computes first touches the file SLOW_SHARD_STARTED and then sleeps, so that the test
can kill the worker in the middle of a query. Production code is not changed by it: the worker's
task looks `shard_summary` up in its module when it runs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import search.engine.shards as shards

_summary = shards.shard_summary


def _slow_summary(index: Any, payload: dict[str, Any]) -> dict[str, Any]:
    Path(os.environ["SLOW_SHARD_STARTED"]).touch()
    time.sleep(float(os.environ.get("SLOW_SHARD_SLEEP_S", "600")))
    return _summary(index, payload)


shards.shard_summary = _slow_summary
