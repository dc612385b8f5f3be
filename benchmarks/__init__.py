"""Benchmarks: each prints a markdown table with ratios against a baseline measured in the run."""
