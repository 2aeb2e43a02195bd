"""Tensor ops whose gradients follow PyTorch at kinks, bounds, ties and zero.

``jax.numpy`` and ``torch`` agree on values; at a handful of non-differentiable points they
pick different subgradients, which a PyTorch user notices as a different training step:

================================  ==========================  ==============================
op (at the point)                 ``jax.grad`` (jax.numpy)    PyTorch, and the function here
================================  ==========================  ==============================
``abs`` at 0                      1                           0 (sign(0))           :func:`abs`
``clip`` at a bound               0.5                         1 (bounds inclusive)  :func:`clamp`
2-norm / p-norm of a zero vector  NaN (2-norm), 1 (1-norm)    0                     :func:`norm`
``max`` along an axis, tied       split evenly between ties   all to the first max  :func:`max_dim`
================================  ==========================  ==============================

Kept as JAX's (and PyTorch's) convention on purpose: ``jnp.max`` over all elements splits
the gradient evenly between ties (``torch.max()`` and ``amax`` do too); ``jnp.where`` with a
non-finite branch gives NaN gradients in both (``where(x > 0, sqrt(x), 0)`` at 0): use the
double-where trick, as :func:`norm` does. All functions take float arrays of any shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


@jax.custom_jvp
def abs(x: Array) -> Array:  # noqa: A001 - the torch name
    """|x| with PyTorch's gradient sign(x) (0 at x = 0; ``jax.grad(jnp.abs)(0.)`` is 1)."""
    return jnp.abs(x)


@abs.defjvp
def _abs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * dx


def clamp(x: Array, min: float | Array | None = None,  # noqa: A002 - torch names
          max: float | Array | None = None) -> Array:
    """``torch.clamp(x, min, max)``: gradient 1 on the closed interval [min, max], 0 outside.

    ``jnp.clip`` gives 0.5 at a bound (it is a ``maximum``/``minimum``, which split ties).
    x: any shape; min, max: scalars or broadcastable arrays, either may be None.
    """
    if min is None and max is None:
        raise ValueError("clamp needs at least one of min and max")
    y = x
    if min is not None:
        y = jnp.where(y < min, jnp.asarray(min, jnp.result_type(x)), y)
    if max is not None:
        y = jnp.where(y > max, jnp.asarray(max, jnp.result_type(x)), y)
    return y


def norm(x: Array, p: float = 2, axis: int | tuple[int, ...] | None = None,
         keepdims: bool = False) -> Array:
    """``torch.linalg.vector_norm(x, ord=p, dim=axis, keepdim=keepdims)`` (``x.norm(p, dim)``).

    (Σ|x|^p)^(1/p) over ``axis`` (all elements by default); p > 0 or ``jnp.inf``. The
    gradient at an all-zero slice is 0, and at a zero entry 0 for every p (also p < 1, where
    |x|^(p-1) is infinite), as PyTorch's (``jnp.linalg.norm`` gives NaN for p = 2). x must be floating point: PyTorch refuses integer tensors, so does this.
    """
    if not jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact):
        raise TypeError(f"x must be a floating-point array; got dtype {jnp.asarray(x).dtype} "
                        "(torch.norm refuses integer tensors too)")
    if not p > 0:
        raise ValueError(f"p must be > 0 or inf; got {p!r}")
    a = abs(x)
    if p == jnp.inf:
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    # |x|^p with gradient 0 where x = 0 (p·|x|^(p-1) is inf there for p < 1; PyTorch masks it)
    s = jnp.sum(jnp.where(a > 0, jnp.where(a > 0, a, 1.0) ** p, 0.0), axis=axis,
                keepdims=keepdims)
    nonzero = s > 0
    return jnp.where(nonzero, jnp.where(nonzero, s, 1.0) ** (1.0 / p), 0.0)


def max_dim(x: Array, axis: int, keepdims: bool = False) -> tuple[Array, Array]:
    """``torch.max(x, dim=axis, keepdim=keepdims)`` -> (values, indices).

    indices: int32, the first maximum (as ``jnp.argmax`` and PyTorch's CPU kernel); the
    gradient of ``values`` goes to that index only, as in PyTorch, whereas the gradient of
    ``jnp.max(x, axis)`` is split evenly between tied maxima.
    """
    idx = jnp.argmax(x, axis=axis, keepdims=True)
    values = jnp.take_along_axis(x, idx, axis=axis)
    if not keepdims:
        values, idx = jnp.squeeze(values, axis), jnp.squeeze(idx, axis)
    return values, idx
