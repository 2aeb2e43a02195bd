"""Loss functions with PyTorch's semantics (``torch.nn.functional``).

Every loss takes ``(input, target)`` in PyTorch's argument order and a ``reduction`` of
``'mean'`` (default), ``'sum'`` or ``'none'``. Shapes must match exactly: PyTorch would
broadcast ``(n, 1)`` against ``(n,)`` to ``(n, n)`` with only a warning, which silently
trains the wrong model, so here it is an error.

Gradients follow PyTorch at the edges too: :func:`l1` has gradient sign(0) = 0 where
input == target, :func:`bce` stays finite at probabilities exactly 0 and 1 (PyTorch's
1e-12 clamp of p(1-p)).

Labels out of range: eager calls raise ValueError; under ``jit`` the labels are tracers
and cannot be looked at, and an out-of-range label would give a silent NaN. Validate them
once where the data enters (:func:`check_labels`, host side, free), or pass
``checked=True`` to :func:`nll` / :func:`cross_entropy`: a host callback then raises the
same message inside compiled code (it stops the program with a ``JaxRuntimeError`` whose
text contains it; it costs one device-to-host copy of the labels per call).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxbasics import tensor
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
    """Mean absolute error, ``torch.nn.L1Loss``: reduce(|input - target|).

    input, target: any shape, the same for both, float. The gradient is sign(input -
    target), 0 where they are equal (PyTorch's; ``jnp.abs`` would give 1 there).
    """
    _same_shape(input, target)
    return reduce(tensor.abs(input - target), reduction)


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


def check_labels(labels, num_classes: int, ignore_index: int | None = -100) -> np.ndarray:
    """Raise ValueError naming ``labels`` unless every label is in [0, num_classes) (or
    equals ``ignore_index``); return them as a numpy array. Host side: call it once on
    concrete labels where data enters training (a dataset, a loader), not inside ``jit``.
    """
    values = np.asarray(labels)
    if not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"labels must be integer class indices; got dtype {values.dtype}")
    bad = (values < 0) | (values >= num_classes)
    if ignore_index is not None:
        bad &= values != ignore_index
    if bad.any():
        raise ValueError(f"labels must lie in [0, {num_classes}) or equal ignore_index "
                         f"{ignore_index}; got {values[bad].ravel()[:5].tolist()}")
    return values


def _checked_labels(labels: Array, num_classes: int, ignore_index: int) -> Array:
    """labels, passed through a host callback that runs :func:`check_labels` (jit-safe)."""
    def check(values):
        return check_labels(values, num_classes, ignore_index)
    shape = jax.ShapeDtypeStruct(jnp.shape(labels), jnp.asarray(labels).dtype)
    return jax.pure_callback(check, shape, labels, vmap_method="expand_dims")


def _weighted_mean(values: Array, weights: Array, reduction: str) -> Array:
    if reduction == "mean":
        return jnp.sum(weights * values) / jnp.sum(weights)
    return reduce(weights * values, reduction)


def nll(log_probs: Array, labels: Array, weight: Array | None = None,
        reduction: str = "mean", ignore_index: int = -100, checked: bool = False) -> Array:
    """``F.nll_loss``: -log_probs[i, labels[i]], weighted by ``weight[labels[i]]``.

    log_probs: (n, C) (or (..., C)) float; labels: (n,) int in [0, C) or ``ignore_index``;
    weight: (C,) or None. With weights the mean is Σ wᵢ·lᵢ / Σ wᵢ (PyTorch's), not a plain
    mean; labels equal to ``ignore_index`` get weight 0 and loss 0. Concrete labels outside
    [0, C) raise ValueError naming ``labels``; traced ones (under ``jit``) give NaN unless
    ``checked=True`` (see the module docstring).
    """
    choice("reduction", reduction, REDUCTIONS)
    _check_labels(log_probs, labels)
    num_classes = jnp.shape(log_probs)[-1]
    concrete = _concrete(labels)
    if concrete is not None:
        check_labels(concrete, num_classes, ignore_index)
    elif checked:
        labels = _checked_labels(labels, num_classes, ignore_index)
    if weight is not None and jnp.shape(weight) != (num_classes,):
        raise ValueError(f"weight must have shape ({num_classes},); got {jnp.shape(weight)}")
    keep = labels != ignore_index
    safe = jnp.where(keep, labels, 0)
    # -log_probs[i, label_i] as a masked sum over the classes (exact: one term is not zero),
    # NaN for any label outside [0, C). A gather (take_along_axis) wrapped negative labels
    # silently (-1 read class C-1); this gives the same loss and gradient to the last bit
    # (the fused LeNet epoch) and compiled and ran as fast (15 interleaved epochs each).
    hit = safe[..., None] == jnp.arange(num_classes)
    picked = -jnp.sum(jnp.where(hit, log_probs, jnp.zeros((), log_probs.dtype)), axis=-1)
    picked = jnp.where((safe >= 0) & (safe < num_classes), picked, jnp.nan)
    w = jnp.ones_like(picked) if weight is None else jnp.asarray(weight, picked.dtype)[safe]
    w = jnp.where(keep, w, 0.0)
    return _weighted_mean(jnp.where(keep, picked, 0.0), w, reduction)


def cross_entropy(logits: Array, labels: Array, weight: Array | None = None,
                  reduction: str = "mean", ignore_index: int = -100,
                  label_smoothing: float = 0.0, checked: bool = False) -> Array:
    """``F.cross_entropy``: ``nll(log_softmax(logits), labels)`` or soft targets.

    logits: (n, C) float. labels: (n,) int class indices in [0, C) (or ``ignore_index``),
    or (n, C) float class probabilities (PyTorch's probability targets: the loss is
    -Σ_c w_c·p_c·log_softmax_c and ``'mean'`` divides by n, not by the weights).
    label_smoothing in [0, 1] mixes the targets with the uniform distribution.
    Out-of-range labels: ValueError when concrete; under ``jit`` NaN, or the same
    ValueError's message from a host callback with ``checked=True``.
    """
    choice("reduction", reduction, REDUCTIONS)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    log_p = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.asarray(labels)
    num_classes = jnp.shape(logits)[-1]
    if jnp.issubdtype(labels.dtype, jnp.floating):
        if jnp.shape(labels) == jnp.shape(logits)[:-1]:  # class indices stored as floats
            raise TypeError(f"class-index labels must be integers; got {labels.dtype} labels "
                            f"of shape {jnp.shape(labels)} (cast with labels.astype(jnp.int32); "
                            f"float labels are probabilities of logits' shape)")
        if jnp.shape(labels) != jnp.shape(logits):
            raise ValueError(f"probability labels must have the shape of logits; got logits "
                             f"{jnp.shape(logits)} and labels {jnp.shape(labels)}")
        probs = labels * (1 - label_smoothing) + label_smoothing / num_classes
        w = 1.0 if weight is None else jnp.asarray(weight, log_p.dtype)
        return reduce(-jnp.sum(w * probs * log_p, axis=-1), reduction)
    hard = nll(log_p, labels, weight, reduction, ignore_index, checked)
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


def _bce_logs(p):
    return jnp.maximum(jnp.log(p), -100.0), jnp.maximum(jnp.log1p(-p), -100.0)


@jax.custom_jvp
def _bce_elementwise(p: Array, t: Array) -> Array:
    log_p, log_1mp = _bce_logs(p)
    return -(t * log_p + (1 - t) * log_1mp)


@_bce_elementwise.defjvp
def _bce_jvp(primals, tangents):
    (p, t), (dp, dt) = primals, tangents
    log_p, log_1mp = _bce_logs(p)
    d_p = (p - t) / jnp.maximum(p * (1 - p), 1e-12)   # PyTorch's binary_cross_entropy_backward
    return -(t * log_p + (1 - t) * log_1mp), d_p * dp + (log_1mp - log_p) * dt


def bce(input: Array, target: Array, weight: Array | None = None,
        reduction: str = "mean") -> Array:
    """``F.binary_cross_entropy``: -w·[t·log p + (1-t)·log(1-p)], logs clamped at -100.

    input: probabilities in [0, 1], any shape; target: same shape, in [0, 1]; weight:
    broadcastable to input or None (a plain rescaling: 'mean' still divides by the count).
    Concrete inputs outside [0, 1] raise ValueError naming ``input`` (PyTorch raises too).
    The gradient is PyTorch's w·(p - t) / max(p(1-p), 1e-12): finite at p = 0 and p = 1,
    so ``bce(sigmoid(x), 1)`` trains for any x (float32 ``sigmoid(20.)`` is exactly 1).
    """
    _same_shape(input, target)
    choice("reduction", reduction, REDUCTIONS)
    concrete = _concrete(input)
    if concrete is not None and ((concrete < 0) | (concrete > 1)).any():
        raise ValueError("input must hold probabilities in [0, 1] (apply sigmoid, or use "
                         f"bce_with_logits); got values from {concrete.min()} to {concrete.max()}")
    values = _bce_elementwise(input, jnp.asarray(target, jnp.result_type(input)))
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
