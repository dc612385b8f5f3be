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
    """z-scores (ddof 0, like scipy), a new float64 array: each sample across genes, or each gene
    across samples."""
    return Standardized.of(data, per_gene=per_gene).z


@dataclass(frozen=True)
class Standardized:
    """z-scores and what undoes them: data = z * scale + centre along the standardized axis
    (scale is the standard deviation, or 1 where that is 0)."""

    z: np.ndarray  # (genes x samples) float64
    centre: np.ndarray  # each sample's mean (per_gene False) or each gene's
    scale: np.ndarray
    per_gene: bool

    @classmethod
    def of(cls, data: np.ndarray, *, per_gene: bool = False) -> Standardized:
        """Worked in one copy (the mean taken out, then the root mean square divided), for a
        batch's 23,614 x 1,152 profiles are 218 MB a temporary."""
        axis = 1 if per_gene else 0
        z = np.array(data, dtype=np.float64)
        centre = z.mean(axis=axis)
        z -= np.expand_dims(centre, axis)
        squares = np.einsum("ij,ij->i" if per_gene else "ij,ij->j", z, z)
        sd = np.sqrt(squares / z.shape[axis])
        scale = np.where(sd > 0, sd, 1.0)
        z /= np.expand_dims(scale, axis)
        return cls(z, centre, scale, per_gene)

    def undone_product(self, weights: np.ndarray, z_product: np.ndarray) -> np.ndarray:
        """data @ weights (weights: samples x s) from z_product = z @ scaled(weights), without
        the data: data = z scale + centre, so data @ w = z (scale w) + centre' w when each sample
        was standardized, and scale (z w) + centre (1' w) when each gene was."""
        out: np.ndarray
        if self.per_gene:
            out = z_product * self.scale[:, None]
            out += np.outer(self.centre, weights.sum(axis=0))
            return out
        out = z_product + (self.centre @ weights)[None, :]
        return out

    def scaled(self, weights: np.ndarray) -> np.ndarray:
        """What z is multiplied by for undone_product: the weights, each sample's row times its
        scale when each sample was standardized."""
        return weights if self.per_gene else weights * self.scale[:, None]


def principal_components(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the samples of `data` (genes x samples), features centred across samples.

    Returns loadings V (genes x k) and scores R (samples x k) of the components whose explained
    variance ratio exceeds VARIANCE_CUTOFF. Computed from the samples x samples Gram matrix, which
    is small when genes outnumber samples.
    """
    centred = data - data.mean(axis=1, keepdims=True)  # genes x samples
    eigenvalues, vectors = kept_components(centred.T @ centred)
    singular = np.sqrt(eigenvalues)
    scores = vectors * singular  # R = U S
    loadings = centred @ vectors / singular  # V = X' U / S
    return loadings, scores


def kept_components(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues (descending) and eigenvectors (samples x k) of the samples x samples Gram
    matrix X'X of centred data X (genes x samples) whose explained variance ratio exceeds
    VARIANCE_CUTOFF."""
    eigenvalues, vectors = np.linalg.eigh(gram)
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
    """b's columns at unit length, in place (b is always a product made for it)."""
    norm = np.linalg.norm(b, axis=0, keepdims=True)
    b /= np.where(norm > 0, norm, 1.0)
    return b


def _centred_gram(data: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(X - m 1')'(X - m 1') for data X (genes x n) and its mean profile m, from X'X and X'm, so
    that the centred profiles (another genes x n array) are never formed."""
    gram: np.ndarray = data.T @ data
    along = data.T @ mean
    gram -= along[:, None]
    gram -= along[None, :]
    gram += mean @ mean
    return gram


def characteristic_direction(
    controls: np.ndarray, cases: np.ndarray, *, gamma: float = 1.0, per_gene: bool = False
) -> np.ndarray:
    """The unit CD vector (n_genes,) of cases against controls (each genes x samples), float64."""
    data = standardize(np.concatenate([controls, cases], axis=1), per_gene=per_gene)
    n_controls = controls.shape[1]
    mean_difference = data[:, n_controls:].mean(axis=1) - data[:, :n_controls].mean(axis=1)
    loadings, scores = principal_components(data)
    inverse = shrunk_inverse(scores, gamma)
    return _unit((loadings @ ((loadings.T @ mean_difference) @ inverse))[:, None])[:, 0]


@dataclass(frozen=True)
class BatchDirections:
    """The shared part of every batch-rule signature of one batch (see the module's note)."""

    standardized: Standardized  # the profiles' z-scores (genes x n) and what undoes them
    mean: np.ndarray  # (genes,) the z-scores' mean over the n profiles
    mix: np.ndarray  # U s U' (n x n): a signature's weights on the profiles -> its b's weights

    @classmethod
    def fit(
        cls, profiles: np.ndarray, *, gamma: float = 1.0, per_gene: bool = False
    ) -> BatchDirections:
        standardized = Standardized.of(profiles, per_gene=per_gene)
        data = standardized.z
        mean = data.mean(axis=1)
        kept, basis = kept_components(_centred_gram(data, mean))
        variances = kept / (data.shape[1] - 2)  # the diagonal of R'R / (n - 2)
        sigma = variances.mean() if variances.size else 0.0
        inverse = 1.0 / (gamma * variances + sigma * (1 - gamma))
        return cls(standardized, mean, (basis * inverse) @ basis.T)

    @property
    def data(self) -> np.ndarray:
        """The standardized profiles (genes x n)."""
        return self.standardized.z

    def signatures(self, case_masks: np.ndarray) -> np.ndarray:
        """Unit CD vectors (genes x s) for s case sets, case_masks (n x s) boolean; the controls of
        each are all other profiles of the batch."""
        return self._products(case_masks, differences=False)[0]

    def with_differences(self, case_masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The unit CD vectors, and each signature's mean of its cases less the mean of its
        controls in the profiles' own units (genes x s each), from one product of the z-scores:
        with w the weights and the profiles = z scale + centre, their mean difference is
        z (scale w) + centre's part, so both take their columns of z @ [U s U' w | scale w]."""
        cd, differences = self._products(case_masks, differences=True)
        assert differences is not None
        return cd, differences

    def _products(
        self, case_masks: np.ndarray, *, differences: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        masks = np.asarray(case_masks, dtype=bool)
        n_cases = masks.sum(axis=0)
        weights = masks / n_cases - ~masks / (masks.shape[0] - n_cases)
        mixed = self.mix @ weights
        s = masks.shape[1]
        right = np.hstack([mixed, self.standardized.scaled(weights)]) if differences else mixed
        both = self.data @ right
        b = both[:, :s]
        b -= np.outer(self.mean, mixed.sum(axis=0))
        undone = self.standardized.undone_product(weights, both[:, s:]) if differences else None
        return _unit(b), undone
