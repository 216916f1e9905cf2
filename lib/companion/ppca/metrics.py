"""How orthogonal, how PCA-like and how disentangled a set of learned directions is.

- :func:`mean_abs_cosine`: average |cos| between pairs of columns of W (0: orthogonal).
- :func:`distance_to_orthogonality` (DtO, Rolinek et al., 2019): with the SVD J = U S Vᵀ of a
  decoder Jacobian (W itself for a linear decoder), ‖V − P(V)‖_F for the signed permutation
  P(V) nearest to V. It is 0 exactly when the SVD returns a V that is a signed permutation: then
  JᵀJ is diagonal (orthogonal columns). The converse needs distinct column norms: orthogonal
  columns of equal norm have no unique V, and DtO is whatever the SVD returns. A column that
  shrinks to 0 makes JᵀJ nearly diagonal whatever the angles, so DtO → 0 then too.
- :func:`collapsed_directions` and :func:`dead_columns`: latent directions (columns) the decoder
  barely uses, where the posterior keeps more than :data:`COLLAPSE_SHARE` of the prior variance.
- :func:`matched_angles`: angles between the columns of W and reference directions (the PCA
  axes or the true factors), each column matched to one reference, signs ignored.
- :func:`sap_score` (Kumar et al., 2018): for each true factor, the gap between the two codes
  that predict it best (R² of a linear fit), averaged over factors: 1 means each factor is
  read off a single code, 0 means two codes share it equally.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

ArrayLike = np.ndarray | torch.Tensor


def _array(value: ArrayLike) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def column_cosines(loadings: ArrayLike) -> np.ndarray:
    """k×k matrix of cosines between the columns of ``loadings`` (zero columns give 0)."""
    matrix = _array(loadings)
    norms = np.linalg.norm(matrix, axis=0)
    unit = matrix / np.where(norms > 0, norms, 1.0)
    return unit.T @ unit


def mean_abs_cosine(loadings: ArrayLike) -> float:
    """Mean |cos| over the pairs of distinct columns of ``loadings``."""
    cosines = column_cosines(loadings)
    pairs = np.triu_indices(cosines.shape[0], k=1)
    return float(np.abs(cosines[pairs]).mean()) if len(pairs[0]) else 0.0


def nearest_signed_permutation(matrix: ArrayLike) -> np.ndarray:
    """The signed permutation matrix P closest to a square ``matrix`` in Frobenius norm.

    ‖M − P‖² = ‖M‖² + k − 2⟨M, P⟩, so P maximises Σ_i |M_{i,π(i)}| (an assignment problem)
    and takes the signs of those entries.
    """
    value = _array(matrix)
    rows, columns = linear_sum_assignment(-np.abs(value))
    permutation = np.zeros_like(value)
    permutation[rows, columns] = np.where(value[rows, columns] < 0, -1.0, 1.0)
    return permutation


def distance_to_orthogonality(jacobian: ArrayLike) -> float:
    """DtO = ‖V − P(V)‖_F with J = U S Vᵀ; for a stack of Jacobians (N×d×k), the mean over N.

    0 exactly when V is a signed permutation, i.e. JᵀJ is diagonal with the columns' squared
    norms on the diagonal; when two orthogonal columns have the same norm, V is not unique and
    the value depends on the SVD. It is not a measure of angles alone: columns at |cos| 0.78
    with one of them scaled by 0.03 give DtO 0.033 (a collapsed column looks orthogonal).
    """
    value = _array(jacobian)
    stack = value[None] if value.ndim == 2 else value
    distances = []
    for matrix in stack:
        right = np.linalg.svd(matrix, full_matrices=False)[2].T
        distances.append(np.linalg.norm(right - nearest_signed_permutation(right)))
    return float(np.mean(distances))


#: A latent direction is collapsed when its posterior keeps more than this share of the prior
#: variance (with decoder gain s along it and output noise σ, σ²/(σ² + s²) > 0.9, i.e. s < σ/3).
COLLAPSE_SHARE = 0.9


def retained_variance(gains: ArrayLike, noise_std: float) -> np.ndarray:
    """Posterior variance over prior variance of a latent direction with decoder gain ``gains``.

    For x = Wz + ε, ε ~ N(0, σ²I), Σ = (σ⁻²WᵀW + I)⁻¹: along a right singular vector of W
    with singular value s it is σ²/(σ² + s²); for the best *diagonal* posterior of z_j it is
    σ²/(σ² + ‖w_j‖²) (Σ⁻¹_jj = 1 + ‖w_j‖²/σ²).
    """
    if noise_std <= 0:
        raise ValueError(f"noise_std={noise_std} must be positive")
    return noise_std ** 2 / (noise_std ** 2 + _array(gains) ** 2)


def collapsed_directions(jacobian: ArrayLike, noise_std: float, threshold: float = COLLAPSE_SHARE) -> int:
    """How many latent directions the decoder ignores: for the j-th largest singular value of J
    (a stack N×d×k: averaged over N), the posterior of the linearised decoder keeps more than
    ``threshold`` of the prior variance. Counts a dead column and also parallel live columns."""
    value = _array(jacobian)
    stack = value[None] if value.ndim == 2 else value
    shares = retained_variance(np.linalg.svd(stack, compute_uv=False), noise_std).mean(axis=0)
    return int((shares > threshold).sum())


def dead_columns(jacobian: ArrayLike, noise_std: float, threshold: float = COLLAPSE_SHARE) -> int:
    """How many columns (latents z_j) the decoder ignores: σ²/(σ² + mean ‖J_j‖²) > ``threshold``
    (averaged over a stack N×d×k), i.e. the root-mean-square column norm is below σ/3."""
    value = _array(jacobian)
    stack = value[None] if value.ndim == 2 else value
    squared_norms = (stack ** 2).sum(axis=1).mean(axis=0)
    return int((retained_variance(np.sqrt(squared_norms), noise_std) > threshold).sum())


def principal_directions(covariance: ArrayLike, count: int) -> np.ndarray:
    """The ``count`` leading eigenvectors of ``covariance`` as columns (the PCA axes)."""
    eigenvalues, eigenvectors = np.linalg.eigh(_array(covariance))
    return eigenvectors[:, np.argsort(eigenvalues)[::-1][:count]]


def matched_angles(loadings: ArrayLike, reference: ArrayLike) -> np.ndarray:
    """Angle in degrees between each column of ``loadings`` and its matched ``reference`` column.

    Columns are matched one to one to maximise the total |cos| (signs do not matter).
    """
    learned, target = _array(loadings), _array(reference)
    learned = learned / np.maximum(np.linalg.norm(learned, axis=0), 1e-300)
    target = target / np.linalg.norm(target, axis=0)
    cosines = np.abs(learned.T @ target)
    rows, columns = linear_sum_assignment(-cosines)
    return np.degrees(np.arccos(np.clip(cosines[rows, columns], 0.0, 1.0)))


def sap_score(codes: ArrayLike, factors: ArrayLike) -> float:
    """Separated Attribute Predictability for continuous factors.

    S_ij = R² of the linear fit of factor j from code i (= squared correlation); the score is
    the mean over factors of the difference between the two largest S_ij.
    """
    codes, factors = _array(codes), _array(factors)
    if codes.shape[1] < 2:
        raise ValueError("SAP needs at least two codes")
    code_dev = codes - codes.mean(axis=0)
    factor_dev = factors - factors.mean(axis=0)
    covariance = code_dev.T @ factor_dev
    norms = np.outer(np.linalg.norm(code_dev, axis=0), np.linalg.norm(factor_dev, axis=0))
    scores = np.divide(covariance, norms, out=np.zeros_like(covariance), where=norms > 0) ** 2
    top_two = np.sort(scores, axis=0)[-2:]
    return float((top_two[1] - top_two[0]).mean())
