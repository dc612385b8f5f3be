"""The search index of this process: opened once, lazily, checked, reopened when it changes.

Web and worker processes call `search_index()`; the first call opens SEARCH_INDEX_DIR with the
engine (which checks the artifact against its index.json), later calls reuse it until the
directory's index.json changes (a new version built in place). An index that is absent or refused
raises IndexUnavailable, which the API answers with 503 and the reason; a refused new version
leaves the previous one serving. A head (an index whose matrices are only in its shards:
search/engine/shards/writing.py) is attached to the shard queues when it is opened.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from search.engine.errors import PortalError
from search.engine.index_state import INDEX_MANIFEST

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], SearchIndex]] = {}


class IndexUnavailable(PortalError):
    """No search index can serve: absent, or refused at load (the reason is the message)."""


def search_index(directory: Path | None = None) -> SearchIndex:
    path = Path(directory or settings.SEARCH_INDEX_DIR)
    manifest = path / INDEX_MANIFEST
    try:
        stat = manifest.stat()
    except OSError:
        raise IndexUnavailable(
            f"no search index in {path}; run manage.py build_search_index"
        ) from None
    from search.engine.index import IndexError_, SearchIndex

    key = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(str(path))
        if cached and cached[0] == key:
            return cached[1]
        try:
            index = SearchIndex.open(path)
            if index.in_shards is not None:  # a head: its matrices in the shard workers
                from search.runtime.shards import attach_queue_shards  # which import this

                attach_queue_shards(index)
        except IndexError_ as error:
            if cached:  # keep serving the version that loaded
                return cached[1]
            raise IndexUnavailable(f"the search index in {path} was refused: {error}") from error
        _cache[str(path)] = (key, index)
        return index
