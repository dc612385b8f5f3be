"""Characteristic direction (Clark et al. 2014), as the paper's released code computes it.

For controls and cases (genes x samples) together:
1. standardize: by default each *sample* is z-scored across genes (scipy's zscore with its default
   axis on a genes x samples matrix, as the released code does); `per_gene=True` z-scores each gene
   across samples instead (what the paper's text says). The two give different signatures.
2. PCA of the samples (genes are the features, centred across samples); keep the components whose
   explained variance ratio exceeds 0.001: loadings V (genes x k), scores R (samples x k).
3. m = mean of the cases minus mean of the controls (standardized data).
4. covariance D = (R_ctrl' R_ctrl + R_case' R_case) / (n - 2); sigma = mean(diag(D));
   shrunk S = gamma D + sigma (1 - gamma) I (gamma = 1 keeps D).
5. b = V ((V' m) S^-1), normalized to unit length. Positive: up in the perturbation.

Under the batch rule (cases and controls are always the whole batch) steps 1, 2 and 4 do not depend
on the signature: `BatchDirections` computes them once. Each signature then needs no gene-sized
work but one product, because everything else lives among the n profiles. With X the centred
data, its Gram matrix X'X = U L U' (the kept components U, L), V = X U L^-1/2 and R = U L^1/2:
- the covariance R'R / (n - 2) = L / (n - 2) is diagonal, so S^-1 is a diagonal s;
- a signature's mean difference is m = X w, w its weights on the profiles (1/n_cases on its
  cases, -1/n_controls on the rest; they sum to 0, so the centring does not change m);
- so V' m = L^-1/2 U' X'X w = L^1/2 U' w, and b = V s V' m = X (U s U') w.
`BatchDirections` keeps the n x n matrix U s U' and gives b = X (U s U' w) for every signature of
the batch at once: the Gram matrix and one product, where the loadings V took two more
gene-sized products. `characteristic_direction` is the direct per-signature computation, kept as
the reference (and used for the vehicle-control rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANCE_CUTOFF = 0.001


def standardize(data: np.ndarray, *, per_gene: bool = False) -> np.ndarray:
    """z-scores (ddof 0, like scipy): each sample across genes, or each gene across samples."""
    axis = 1 if per_gene else 0
    mean = data.mean(axis=axis, keepdims=True)
    sd = data.std(axis=axis, keepdims=True)
    z: np.ndarray = (data - mean) / np.where(sd > 0, sd, 1.0)
    return z


def principal_components(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the samples of `data` (genes x samples), features centred across samples.

    Returns loadings V (genes x k) and scores R (samples x k) of the components whose explained
    variance ratio exceeds VARIANCE_CUTOFF. Computed from the samples x samples Gram matrix, which
    is small when genes outnumber samples.
    """
    centred = data - data.mean(axis=1, keepdims=True)  # genes x samples
    eigenvalues, vectors = kept_components(centred)
    singular = np.sqrt(eigenvalues)
    scores = vectors * singular  # R = U S
    loadings = centred @ vectors / singular  # V = X' U / S
    return loadings, scores


def kept_components(centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues (descending) and eigenvectors (samples x k) of the samples x samples Gram
    matrix of `centred` (genes x samples) whose explained variance ratio exceeds
    VARIANCE_CUTOFF."""
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = np.clip(eigenvalues[order], 0.0, None), vectors[:, order]
    total = eigenvalues.sum()
    keep = eigenvalues / total > VARIANCE_CUTOFF if total > 0 else np.zeros(order.size, bool)
    return eigenvalues[keep], vectors[:, keep]


def shrunk_inverse(scores: np.ndarray, gamma: float) -> np.ndarray:
    """S^-1 for scores R (samples x k) of the whole set, cases and controls (step 4)."""
    n = scores.shape[0]
    covariance = scores.T @ scores / (n - 2)
    sigma = np.mean(np.diag(covariance))
    shrunk = gamma * covariance + sigma * (1 - gamma) * np.eye(covariance.shape[0])
    return np.linalg.inv(shrunk)


def _unit(b: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(b, axis=0, keepdims=True)
    return b / np.where(norm > 0, norm, 1.0)


def characteristic_direction(
    controls: np.ndarray, cases: np.ndarray, *, gamma: float = 1.0, per_gene: bool = False
) -> np.ndarray:
    """The unit CD vector (n_genes,) of cases against controls (each genes x samples), float64."""
    data = standardize(
        np.concatenate([controls, cases], axis=1).astype(np.float64), per_gene=per_gene
    )
    n_controls = controls.shape[1]
    mean_difference = data[:, n_controls:].mean(axis=1) - data[:, :n_controls].mean(axis=1)
    loadings, scores = principal_components(data)
    inverse = shrunk_inverse(scores, gamma)
    return _unit((loadings @ ((loadings.T @ mean_difference) @ inverse))[:, None])[:, 0]


@dataclass(frozen=True)
class BatchDirections:
    """The shared part of every batch-rule signature of one batch (see the module's note)."""

    data: np.ndarray  # standardized profiles (genes x n)
    mean: np.ndarray  # (genes,) their mean over the n profiles
    mix: np.ndarray  # U s U' (n x n): a signature's weights on the profiles -> its b's weights

    @classmethod
    def fit(
        cls, profiles: np.ndarray, *, gamma: float = 1.0, per_gene: bool = False
    ) -> BatchDirections:
        data = standardize(np.asarray(profiles, dtype=np.float64), per_gene=per_gene)
        mean = data.mean(axis=1)
        kept, basis = kept_components(data - mean[:, None])
        variances = kept / (data.shape[1] - 2)  # the diagonal of R'R / (n - 2)
        sigma = variances.mean() if variances.size else 0.0
        inverse = 1.0 / (gamma * variances + sigma * (1 - gamma))
        return cls(data, mean, (basis * inverse) @ basis.T)

    def signatures(self, case_masks: np.ndarray) -> np.ndarray:
        """Unit CD vectors (genes x s) for s case sets, case_masks (n x s) boolean; the controls of
        each are all other profiles of the batch."""
        masks = np.asarray(case_masks, dtype=bool)
        n_cases = masks.sum(axis=0)
        weights = masks / n_cases - ~masks / (masks.shape[0] - n_cases)
        mixed = self.mix @ weights
        return _unit(self.data @ mixed - np.outer(self.mean, mixed.sum(axis=0)))
