"""Open what a search needs before the first request: the index and the gene resolver."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connections

from search.engine.errors import PortalError
from search.runtime.index_access import IndexUnavailable, search_index
from search.selectors.genes import gene_resolver


def warm_up() -> str:
    """Open the search index and build the gene resolver; say what is ready, never raise."""
    done = []
    try:
        index = search_index()
        genes = index.genes[:20]
        path = settings.SEARCH_PATH  # gpu: the rank matrix goes to the device now
        if index.in_shards is not None:  # its searches wait on the shard workers: not at start
            done.append(f"search index {index.version} open: a head of {index.n_shards} shards")
        else:
            index.search(up=genes[:10], down=genes[10:], k=10, path=path)  # imports, page-ins
            done.append(f"search index {index.version} open (path {path})")
    except IndexUnavailable as error:
        done.append(f"no search index ({error})")
    except PortalError as error:  # SEARCH_PATH=gpu without a usable GPU: said, searches refuse
        done.append(f"search index open, but its {settings.SEARCH_PATH} path fails: {error}")
    try:
        done.append(f"gene resolver of {len(gene_resolver().genes):,} genes built")
    except DatabaseError as error:
        done.append(f"no gene resolver ({error})")
    finally:
        connections.close_all()  # the worker's requests open their own
    return "; ".join(done)
