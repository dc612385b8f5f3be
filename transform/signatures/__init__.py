"""Perturbation signatures: characteristic direction per batch, gene sets, reverse-search tables."""
