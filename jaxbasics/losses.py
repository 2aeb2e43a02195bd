"""Loss functions with PyTorch's semantics (``torch.nn.functional``).

Every loss takes ``(input, target)`` in PyTorch's argument order and a ``reduction`` of
``'mean'`` (default), ``'sum'`` or ``'none'``. Shapes must match exactly: PyTorch would
broadcast ``(n, 1)`` against ``(n,)`` to ``(n, n)`` with only a warning, which silently
trains the wrong model, so here it is an error.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import choice

REDUCTIONS = ("mean", "sum", "none")


def reduce(values: Array, reduction: str = "mean") -> Array:
    """Reduce elementwise losses: ``'mean'`` -> scalar mean, ``'sum'`` -> scalar, ``'none'`` -> as is."""
    choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def _same_shape(input: Array, target: Array) -> None:
    if jnp.shape(input) != jnp.shape(target):
        raise ValueError(
            f"input and target must have the same shape; got input {jnp.shape(input)} "
            f"and target {jnp.shape(target)}"
        )


def mse(input: Array, target: Array, reduction: str = "mean") -> Array:
    """Mean squared error, ``torch.nn.MSELoss``: reduce((input - target)**2).

    input, target: any shape, the same for both, float.
    """
    _same_shape(input, target)
    return reduce(jnp.square(input - target), reduction)


def l1(input: Array, target: Array, reduction: str = "mean") -> Array:
    """Mean absolute error, ``torch.nn.L1Loss``: reduce(|input - target|)."""
    _same_shape(input, target)
    return reduce(jnp.abs(input - target), reduction)


def squared_loss(y_hat: Array, y: Array) -> Array:
    """d2l's ``squared_loss``: (y_hat - y)**2 / 2 per example, unreduced.

    y_hat, y: (n, 1) or (n,), same shape.
    """
    _same_shape(y_hat, y)
    return jnp.square(y_hat - y) / 2


def _check_labels(logits: Array, labels: Array) -> None:
    if jnp.ndim(logits) < 1 or jnp.shape(labels) != jnp.shape(logits)[:-1]:
        raise ValueError(f"labels must have the shape of input without its class axis; got "
                         f"input {jnp.shape(logits)} and labels {jnp.shape(labels)}")
    if not jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer):
        raise TypeError(f"labels must be integer class indices; got dtype {jnp.asarray(labels).dtype}")


def _concrete(x):
    """x as a numpy array if it is concrete (not traced), else None."""
    import numpy as np
    try:
        return np.asarray(x)
    except Exception:  # a tracer under jit/grad
        return None


def _weighted_mean(values: Array, weights: Array, reduction: str) -> Array:
    if reduction == "mean":
        return jnp.sum(weights * values) / jnp.sum(weights)
    return reduce(weights * values, reduction)


def nll(log_probs: Array, labels: Array, weight: Array | None = None,
        reduction: str = "mean", ignore_index: int = -100) -> Array:
    """``F.nll_loss``: -log_probs[i, labels[i]], weighted by ``weight[labels[i]]``.

    log_probs: (n, C) (or (..., C)) float; labels: (n,) int in [0, C) or ``ignore_index``;
    weight: (C,) or None. With weights the mean is Σ wᵢ·lᵢ / Σ wᵢ (PyTorch's), not a plain
    mean; labels equal to ``ignore_index`` get weight 0 and loss 0. Concrete labels outside
    [0, C) raise ValueError naming ``labels``.
    """
    choice("reduction", reduction, REDUCTIONS)
    _check_labels(log_probs, labels)
    num_classes = jnp.shape(log_probs)[-1]
    concrete = _concrete(labels)
    if concrete is not None:
        bad = (concrete != ignore_index) & ((concrete < 0) | (concrete >= num_classes))
        if bad.any():
            raise ValueError(f"labels must lie in [0, {num_classes}) or equal ignore_index "
                             f"{ignore_index}; got {concrete[bad].ravel()[:5].tolist()}")
    if weight is not None and jnp.shape(weight) != (num_classes,):
        raise ValueError(f"weight must have shape ({num_classes},); got {jnp.shape(weight)}")
    keep = labels != ignore_index
    safe = jnp.where(keep, labels, 0)
    picked = -jnp.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    w = jnp.ones_like(picked) if weight is None else jnp.asarray(weight, picked.dtype)[safe]
    w = jnp.where(keep, w, 0.0)
    return _weighted_mean(jnp.where(keep, picked, 0.0), w, reduction)


def cross_entropy(logits: Array, labels: Array, weight: Array | None = None,
                  reduction: str = "mean", ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> Array:
    """``F.cross_entropy``: ``nll(log_softmax(logits), labels)`` or soft targets.

    logits: (n, C) float. labels: (n,) int class indices in [0, C) (or ``ignore_index``),
    or (n, C) float class probabilities (PyTorch's probability targets: the loss is
    -Σ_c w_c·p_c·log_softmax_c and ``'mean'`` divides by n, not by the weights).
    label_smoothing in [0, 1] mixes the targets with the uniform distribution.
    """
    import jax
    choice("reduction", reduction, REDUCTIONS)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    log_p = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.asarray(labels)
    num_classes = jnp.shape(logits)[-1]
    if jnp.issubdtype(labels.dtype, jnp.floating):
        if jnp.shape(labels) != jnp.shape(logits):
            raise ValueError(f"probability labels must have the shape of logits; got logits "
                             f"{jnp.shape(logits)} and labels {jnp.shape(labels)}")
        probs = labels * (1 - label_smoothing) + label_smoothing / num_classes
        w = 1.0 if weight is None else jnp.asarray(weight, log_p.dtype)
        return reduce(-jnp.sum(w * probs * log_p, axis=-1), reduction)
    hard = nll(log_p, labels, weight, reduction, ignore_index)
    if not label_smoothing:
        return hard
    # PyTorch: (1-ε)·nll + ε·(-Σ_c w_c log p_c / C), both reduced with the same weights.
    keep = labels != ignore_index
    w = jnp.ones(num_classes, log_p.dtype) if weight is None else jnp.asarray(weight, log_p.dtype)
    smooth = jnp.where(keep, -jnp.sum(w * log_p, axis=-1) / num_classes, 0.0)
    if reduction == "mean":
        denom = jnp.sum(jnp.where(keep, w[jnp.where(keep, labels, 0)], 0.0))
        smooth = jnp.sum(smooth) / denom
    else:
        smooth = reduce(smooth, reduction)
    return (1 - label_smoothing) * hard + label_smoothing * smooth


def bce(input: Array, target: Array, weight: Array | None = None,
        reduction: str = "mean") -> Array:
    """``F.binary_cross_entropy``: -w·[t·log p + (1-t)·log(1-p)], logs clamped at -100.

    input: probabilities in [0, 1], any shape; target: same shape, in [0, 1]; weight:
    broadcastable to input or None (a plain rescaling: 'mean' still divides by the count).
    Concrete inputs outside [0, 1] raise ValueError naming ``input`` (PyTorch raises too).
    """
    _same_shape(input, target)
    choice("reduction", reduction, REDUCTIONS)
    concrete = _concrete(input)
    if concrete is not None and ((concrete < 0) | (concrete > 1)).any():
        raise ValueError("input must hold probabilities in [0, 1] (apply sigmoid, or use "
                         f"bce_with_logits); got values from {concrete.min()} to {concrete.max()}")
    log_p = jnp.maximum(jnp.log(input), -100.0)
    log_1mp = jnp.maximum(jnp.log1p(-input), -100.0)
    values = -(target * log_p + (1 - target) * log_1mp)
    if weight is not None:
        values = values * weight
    return reduce(values, reduction)


def bce_with_logits(input: Array, target: Array, weight: Array | None = None,
                    reduction: str = "mean", pos_weight: Array | None = None) -> Array:
    """``F.binary_cross_entropy_with_logits``: bce(sigmoid(x), t) computed stably.

    loss = -w·[pw·t·log σ(x) + (1-t)·log(1-σ(x))] with log σ(x) = -softplus(-x) and
    log(1-σ(x)) = -softplus(x), finite for any logits (±100 included).
    input: logits, any shape; target: same shape, in [0, 1]; weight: broadcastable;
    pos_weight: broadcastable along the last (class) axis, weights the positive term.
    """
    import jax
    _same_shape(input, target)
    choice("reduction", reduction, REDUCTIONS)
    log_sig = -jax.nn.softplus(-input)
    log_1msig = -jax.nn.softplus(input)
    pw = 1.0 if pos_weight is None else pos_weight
    values = -(pw * target * log_sig + (1 - target) * log_1msig)
    if weight is not None:
        values = values * weight
    return reduce(values, reduction)


KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


def kl_div(input: Array, target: Array, reduction: str = "mean", log_target: bool = False) -> Array:
    """``F.kl_div(input, target)``: target·(log target - input), input being *log*-probs.

    input: log q, any shape; target: p (or log p with ``log_target``), same shape.
    Terms with target 0 are 0. ``reduction='batchmean'`` divides the sum by input.shape[0]
    (the true KL per example); PyTorch's default ``'mean'`` divides by every element.
    """
    _same_shape(input, target)
    choice("reduction", reduction, KL_REDUCTIONS)
    if log_target:
        values = jnp.exp(target) * (target - input)
    else:
        safe = jnp.where(target > 0, target, 1.0)
        values = jnp.where(target > 0, target * (jnp.log(safe) - input), 0.0)
    if reduction == "batchmean":
        return jnp.sum(values) / (jnp.shape(input)[0] if jnp.ndim(input) else 1)
    return reduce(values, reduction)


def entropy(p: Array, axis: int = -1) -> Array:
    """Shannon entropy H(p) = -Σ p log p in nats along ``axis`` (0·log 0 = 0). p: (..., C)."""
    safe = jnp.where(p > 0, p, 1.0)
    return -jnp.sum(jnp.where(p > 0, p * jnp.log(safe), 0.0), axis=axis)


def distribution_cross_entropy(p: Array, q: Array, axis: int = -1) -> Array:
    """H(p, q) = -Σ p log q in nats along ``axis``; p, q: (..., C) probabilities."""
    _same_shape(p, q)
    safe = jnp.where(p > 0, q, 1.0)
    return -jnp.sum(jnp.where(p > 0, p * jnp.log(safe), 0.0), axis=axis)


def kl_divergence(p: Array, q: Array, axis: int = -1) -> Array:
    """KL(p ‖ q) = Σ p log(p/q) = H(p, q) - H(p) along ``axis``; p, q: (..., C)."""
    return distribution_cross_entropy(p, q, axis) - entropy(p, axis)
