"""The server-rendered pages (templates/search): search, results, genes, signatures, batches,
downloads."""
