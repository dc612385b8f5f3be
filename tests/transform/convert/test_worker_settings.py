"""The Celery settings of the conversion workers and of the command that sends them chunks."""

from __future__ import annotations

import pytest

from transform.convert.dispatch import broker_settings
from transform.convert.worker import VISIBILITY_TIMEOUT_S, celery_settings


def test_workers_take_one_chunk_at_a_time_and_acknowledge_it_when_done() -> None:
    settings = celery_settings({"CELERY_BROKER_URL": "redis://broker:6379/3"})
    assert settings["task_acks_late"] is True
    assert settings["worker_prefetch_multiplier"] == 1
    assert settings["result_backend"] == "redis://broker:6379/3"
    options = settings["broker_transport_options"]
    assert options["visibility_timeout"] == VISIBILITY_TIMEOUT_S == 600


def test_the_visibility_timeout_comes_from_the_environment() -> None:
    environ = {"CELERY_BROKER_URL": "redis://b/0", "CONVERT_VISIBILITY_TIMEOUT_S": "20"}
    options = celery_settings(environ)["broker_transport_options"]
    assert options["visibility_timeout"] == 20
    assert options["unacked_restore_interval"] == 5
    with pytest.raises(ValueError, match="CONVERT_VISIBILITY_TIMEOUT_S must be positive"):
        celery_settings({**environ, "CONVERT_VISIBILITY_TIMEOUT_S": "0"})


def test_sending_chunks_to_workers_needs_a_broker() -> None:
    with pytest.raises(ValueError, match="--workers needs CELERY_BROKER_URL"):
        broker_settings({})
    assert broker_settings({"CELERY_BROKER_URL": "redis://b/1"}) == ("redis://b/1", "redis://b/1")
