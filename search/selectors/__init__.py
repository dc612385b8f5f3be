"""Reads: genes and their resolution, a query's genes, signatures and their pages' data, stored
searches and batches, the files on offer, the example queries."""
