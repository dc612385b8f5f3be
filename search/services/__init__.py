"""Writes: the searches and batch searches the portal runs and stores, the gene registry and the
signature table it loads."""
