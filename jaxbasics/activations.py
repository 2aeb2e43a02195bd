"""Activation functions (``jax.nn``) with their closed-form derivatives.

Each ``f`` here is the ``jax.nn`` function with PyTorch's defaults; ``DERIVATIVES[name]``
is f' written out by hand (elementwise), which the tests compare with ``jax.grad``.
All take float arrays of any shape and return the same shape and dtype.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax import Array

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
    """x for x >= 0, negative_slope·x below (PyTorch's default slope 0.01)."""
    return jax.nn.leaky_relu(x, negative_slope)


def selu(x: Array) -> Array:
    """scale·(x if x > 0 else alpha·(e^x - 1))."""
    return jax.nn.selu(x)


def softplus(x: Array) -> Array:
    """log(1 + e^x), computed stably."""
    return jax.nn.softplus(x)


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
    """1 for x >= 0 else negative_slope (jax.nn.leaky_relu's choice at 0)."""
    return jnp.where(x >= 0, 1.0, negative_slope).astype(jnp.result_type(x, jnp.float32))


def d_selu(x: Array) -> Array:
    """scale for x > 0 else scale·alpha·e^x."""
    return jnp.where(x > 0, SELU_SCALE, SELU_SCALE * SELU_ALPHA * jnp.exp(jnp.minimum(x, 0)))


def d_softplus(x: Array) -> Array:
    """softplus'(x) = σ(x)."""
    return jax.nn.sigmoid(x)


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
