"""An index in shards: K indexes by signature range, searched together with the answer of one.

`write_shards(index, out, k)` writes K shard indexes (out/shard-0 ... shard-K-1), each a whole
index directory of its range of signatures that any process opens with `SearchIndex.open` and
serves with the calls of answering.py, and the head (out/head): the index without its matrices
(writing.py). `ShardedIndex(coordinator, shards)` searches them: the coordinator holds the gene
space and every signature's metadata (the unsplit index, whose matrices it never reads for a
search, or the head, which reads them from the shards: matrices.py); `shards` answer in shard
order, in process (`LocalShard`) or through Celery queues (search/runtime/shards.py).

1. summary: each shard's `running.Running` over its selected signatures (its candidates for the
   top k, the largest |z| each FDR reads, fixed-bin counts) and how many it selected. Merged in
   shard order (places offset by the shards before), these give the top k and, in most cases,
   every FDR exactly (running.py says when and why);
2. sums, only when an FDR needs every signature sorted: each shard's two rank sums of its
   selected signatures (4 bytes each), and the coordinator ranks the query from them with the
   exact path's own code. A shard whose own summary would need every signature for an FDR
   guesses that the merged one will too and sends its sums with the summary
   (`Running.needs_every`), so that most such searches take one round; the coordinator asks the
   shards that did not for their sums (`ShardedIndex.sums_first` sets the guess to always or
   never, for tests and benchmarks).
The tau order (specificity.py) asks the shards' sums at once, and the coordinator, which holds the
specificity compendium beside the metadata (0.26 GB a million), orders the signatures by tau with
the exact path's own code. The 'cd' score asks one call, value_sums: each shard's two sums of CD
values and each selected signature's value mean and variance (32 bytes a signature), which the
coordinator scores and ranks with the exact path's own code; it needs shards written from an
index with values.
Either way the table equals `coordinator.search(..., path="exact")`'s, bit for bit
(tests/engine/test_shards.py). A shard that does not answer makes the search fail
(`ShardUnavailableError`), never a partial answer presented as whole. Every call tells the shard
which part of which index it is asked as (its number, K, the index version and size), and a shard
that serves another refuses (`ShardMismatchError`): shards of one size swapped, or left from an
earlier build, would otherwise answer with other signatures in their places.

Answers hold numpy arrays; a transport makes them travel (transport.py: JSON with the bytes in
base64; search/runtime/shards.py puts large ones in Redis as they are).

The modules: calls.py (the calls, their errors, the scatter), answering.py (the shard's side),
searching.py (the coordinator's), writing.py (shards and head), matrices.py (a head's matrices).
"""

from search.engine.shards.answering import (
    LocalShard,
    shard_cells,
    shard_products,
    shard_summary,
    shard_sums,
    shard_value_sums,
)
from search.engine.shards.calls import Shard, ShardMismatchError, ShardUnavailableError
from search.engine.shards.matrices import MatrixInShards
from search.engine.shards.searching import ShardedIndex
from search.engine.shards.transport import array_of, array_parts, decoded, encoded
from search.engine.shards.writing import HEAD, write_head, write_shards

__all__ = [
    "HEAD",
    "LocalShard",
    "MatrixInShards",
    "Shard",
    "ShardMismatchError",
    "ShardUnavailableError",
    "ShardedIndex",
    "array_of",
    "array_parts",
    "decoded",
    "encoded",
    "shard_cells",
    "shard_products",
    "shard_summary",
    "shard_sums",
    "shard_value_sums",
    "write_head",
    "write_shards",
]
