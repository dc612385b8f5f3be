"""Evaluation of the two-step model on a paired set, against baselines (the paper's conventions)."""
