"""Activation functions (``jax.nn``) with their closed-form derivatives.

Each ``f`` here is the ``jax.nn`` function with PyTorch's defaults; ``DERIVATIVES[name]``
is f' written out by hand (elementwise), which the tests compare with ``jax.grad``.
All take float arrays of any shape and return the same shape and dtype.

Where PyTorch and ``jax.nn`` differ, these follow PyTorch: ``leaky_relu``'s gradient at 0
is the negative slope (``jax.nn.leaky_relu`` gives 1); ``gelu`` is exact by default
(``jax.nn.gelu`` defaults to the tanh approximation); ``softplus`` takes ``beta`` and
``threshold``. The gradient of ``relu`` at 0 is 0 in both.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.stats import norm as _normal

# SELU's constants (Klambauer et al. 2017), as in torch.nn.SELU and jax.nn.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^-x)."""
    return jax.nn.sigmoid(x)


def tanh(x: Array) -> Array:
    """tanh(x)."""
    return jnp.tanh(x)


def relu(x: Array) -> Array:
    """max(x, 0)."""
    return jax.nn.relu(x)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    """x for x > 0, negative_slope·x otherwise (PyTorch's default slope 0.01).

    The gradient at 0 is ``negative_slope``, as PyTorch's (``jax.nn.leaky_relu``: 1).
    """
    return jnp.where(x > 0, x, negative_slope * x)


def selu(x: Array) -> Array:
    """scale·(x if x > 0 else alpha·(e^x - 1))."""
    return jax.nn.selu(x)


def softplus(x: Array, beta: float = 1.0, threshold: float = 20.0) -> Array:
    """``F.softplus(x, beta, threshold)``: log(1 + e^(beta·x)) / beta, computed stably,
    and x itself where beta·x > threshold (PyTorch's switch to the identity)."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0; got {beta!r}")
    bx = beta * x
    return jnp.where(bx > threshold, x, jax.nn.softplus(bx) / beta)


def log_softmax(x: Array, axis: int = -1) -> Array:
    """``F.log_softmax(x, dim=axis)``: x - logsumexp(x) along ``axis`` (max-shifted).

    ``F.cross_entropy(x, y) == F.nll_loss(log_softmax(x), y)`` (seed 000); here
    ``losses.cross_entropy`` == ``losses.nll(log_softmax(x), y)``.
    """
    return jax.nn.log_softmax(x, axis=axis)


def elu(x: Array, alpha: float = 1.0) -> Array:
    """``F.elu``: x for x > 0, alpha·(e^x - 1) otherwise."""
    return jax.nn.elu(x, alpha)


def gelu(x: Array, approximate: str = "none") -> Array:
    """``F.gelu(x, approximate=...)``: x·Φ(x) with the exact erf (``'none'``, PyTorch's
    default) or the tanh approximation (``'tanh'``, ``jax.nn.gelu``'s default)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh'; got {approximate!r}")
    return jax.nn.gelu(x, approximate=approximate == "tanh")


def silu(x: Array) -> Array:
    """``F.silu`` (swish): x·σ(x)."""
    return jax.nn.silu(x)


def swiglu(x: Array, axis: int = -1) -> Array:
    """SwiGLU gate: split ``x`` in halves a, b along ``axis``; a·σ(a) * b (silu(a)·b).

    x: (..., 2d) -> (..., d). Raises ValueError when the axis has odd length.
    """
    if jnp.shape(x)[axis] % 2:
        raise ValueError(f"x must have an even length along axis {axis}; got shape {jnp.shape(x)}")
    a, b = jnp.split(x, 2, axis=axis)
    return jax.nn.silu(a) * b


def softmax(x: Array, axis: int = -1) -> Array:
    """exp(x) / Σ exp(x) along ``axis`` (max-shifted, so stable)."""
    return jax.nn.softmax(x, axis=axis)


def d_sigmoid(x: Array) -> Array:
    """σ'(x) = σ(x)(1 - σ(x))."""
    s = jax.nn.sigmoid(x)
    return s * (1 - s)


def d_tanh(x: Array) -> Array:
    """tanh'(x) = 1 - tanh²(x)."""
    return 1 - jnp.tanh(x) ** 2


def d_relu(x: Array) -> Array:
    """1 for x > 0 else 0 (0 at x = 0, as jax.grad and PyTorch give)."""
    return (x > 0).astype(jnp.result_type(x, jnp.float32))


def d_leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    """1 for x > 0 else negative_slope (PyTorch's choice at 0)."""
    return jnp.where(x > 0, 1.0, negative_slope).astype(jnp.result_type(x, jnp.float32))


def d_selu(x: Array) -> Array:
    """scale for x > 0 else scale·alpha·e^x."""
    return jnp.where(x > 0, SELU_SCALE, SELU_SCALE * SELU_ALPHA * jnp.exp(jnp.minimum(x, 0)))


def d_softplus(x: Array) -> Array:
    """softplus'(x) = σ(x)."""
    return jax.nn.sigmoid(x)


def d_elu(x: Array, alpha: float = 1.0) -> Array:
    """1 for x > 0 else alpha·e^x."""
    return jnp.where(x > 0, 1.0, alpha * jnp.exp(jnp.minimum(x, 0)))


def d_gelu(x: Array) -> Array:
    """Φ(x) + x·φ(x) (exact gelu)."""
    return _normal.cdf(x) + x * _normal.pdf(x)


def d_silu(x: Array) -> Array:
    """σ(x)(1 + x(1 - σ(x)))."""
    s = jax.nn.sigmoid(x)
    return s * (1 + x * (1 - s))


def softmax_jacobian(x: Array) -> Array:
    """∂softmax(x)_i/∂x_j = s_i(δ_ij - s_j). x: (C,) -> (C, C), or (..., C) -> (..., C, C)."""
    s = jax.nn.softmax(x, axis=-1)
    return s[..., :, None] * (jnp.eye(s.shape[-1], dtype=s.dtype) - s[..., None, :])


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "selu": selu, "softplus": softplus,
}
DERIVATIVES: dict[str, Callable[[Array], Array]] = {
    "sigmoid": d_sigmoid, "tanh": d_tanh, "relu": d_relu, "leaky_relu": d_leaky_relu,
    "selu": d_selu, "softplus": d_softplus,
}

# The functions added for PyTorch parity, kept apart so the activations experiment's
# figure keeps its six curves.
MORE_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"elu": elu, "gelu": gelu, "silu": silu}
MORE_DERIVATIVES: dict[str, Callable[[Array], Array]] = {"elu": d_elu, "gelu": d_gelu,
                                                         "silu": d_silu}
