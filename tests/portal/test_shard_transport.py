"""How a shard's answer travels as a Celery result: arrays of BLOB_BYTES or more as their bytes in
the running Redis (a key each, expiring with the call, taken and deleted by the coordinator), the
rest as JSON with the bytes in base64; without a Redis result backend, all of it JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from celery import Celery

from search.engine.shards import decoded, encoded
from search.runtime.shards import BLOB_BYTES, packed, unpacked

pytestmark = pytest.mark.services


def _answer() -> dict:
    rng = np.random.default_rng(0)
    return {
        "selected": 70_000,
        "up": rng.integers(0, 2**31, 70_000, dtype=np.uint32),  # 280 kB: a blob
        "counts": rng.integers(0, 9, (3, 40), dtype=np.int64),  # small: base64
        "keys": np.empty(0),
        "stats": rng.normal(size=(BLOB_BYTES // 16, 2)),  # exactly BLOB_BYTES: a blob
    }


def _equal(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert found[name].dtype == value.dtype
            assert np.array_equal(found[name], value)
        else:
            assert found[name] == value


def test_large_arrays_go_through_redis_and_are_deleted_when_taken(celery_client: Celery) -> None:
    redis = celery_client.backend.client
    answer = _answer()
    sent = packed(answer, celery_client)
    json.dumps(sent)  # what Celery's JSON serializer must carry
    blobs = {name: v["blob"] for name, v in sent.items() if isinstance(v, dict) and "blob" in v}
    assert set(blobs) == {"up", "stats"}
    assert sent["counts"]["data"]  # base64
    for key in blobs.values():
        assert 0 < redis.ttl(key) <= 30  # SEARCH_SHARD_TIMEOUT_S
    _equal(unpacked(sent, redis), answer)
    assert not any(redis.exists(key) for key in blobs.values())
    with pytest.raises(LookupError, match=r"the shard's up \(Redis key shard-answer:.*\) was not"):
        unpacked(sent, redis)


def test_without_a_redis_backend_everything_is_json() -> None:
    client = Celery(broker="memory://", set_as_current=False)  # no result backend
    answer = _answer()
    sent = packed(answer, client)
    assert sent == encoded(answer)
    json.dumps(sent)
    _equal(unpacked(sent, None), answer)
    _equal(decoded(encoded(answer)), answer)
    blob = {**sent, "up": {"dtype": "uint32", "shape": [1], "blob": "shard-answer:x"}}
    with pytest.raises(LookupError, match="no Redis result backend"):
        unpacked(blob, None)
