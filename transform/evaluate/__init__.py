"""Evaluation of the two-step model on a paired set, against baselines (the conventions of Jeon et al. 2022)."""
