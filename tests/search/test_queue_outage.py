"""A broker that cannot be reached: a batch is answered 503 with the reason and Retry-After, and
the batch is marked failed with that reason (not left queued for a worker that never sees it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from search.models import BatchSearch, BatchStatus
from search.tasks import batch_search_run_task
from tests.search.conftest import PortalIndex

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def unreachable_broker(settings) -> Iterator[None]:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app = batch_search_run_task.app  # the current app (a test's own Celery() may have become it)
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, UNREACHABLE
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before


@pytest.mark.django_db(transaction=True)  # on_commit runs at once, as in production
def test_a_batch_with_the_queue_unreachable_is_a_503_and_a_failed_batch(
    serve_portal_index: PortalIndex, unreachable_broker: None
) -> None:
    gmt = "Q\tx\t" + "\t".join(serve_portal_index.genes[:8])
    response = APIClient().post("/api/search/batch", {"gmt": gmt}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["detail"].startswith("the task queue cannot be reached: ")
    (batch,) = BatchSearch.objects.all()
    assert batch.status == BatchStatus.FAILED
    assert batch.error.startswith("the task queue cannot be reached: ")
