"""The running portal's state: the search index it opens (once per process), its warm-up, and its
health (database, broker, index)."""
