"""Template context for every page: whether the index served holds a generated world's signatures,
so that every page says so (base.html) and no one takes the demo's answers for biology."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from search.engine.index_state import index_state


def served_data(request: HttpRequest) -> dict[str, object]:
    """{"synthetic_world": the generated world (size, seed, setting) or None}: read from the
    served index's index.json, where the build copied it from the signatures' manifest."""
    return {"synthetic_world": index_state(settings.SEARCH_INDEX_DIR).synthetic_world}
