"""Convolution, pooling, upsampling and batch-norm with PyTorch's semantics.

Layout: the project is **NHWC** (Flax's), activations (n, h, w, c) and convolution
kernels **HWIO** (kh, kw, in, out), as ``flax.nnx.Conv`` stores them. PyTorch is NCHW with
weights (out, in, kh, kw); convert at the boundary with :func:`nchw_to_nhwc`,
:func:`nhwc_to_nchw`, :func:`torch_to_flax_kernel` and :func:`flax_to_torch_kernel`.

Hyper-parameters follow PyTorch: ``padding`` is symmetric zero padding per side,
``stride`` of pooling defaults to the window. Output size of conv and pool along one axis::

    out = floor((n + 2 * padding - dilation * (k - 1) - 1) / stride) + 1

Batch-norm momentum: PyTorch's ``momentum=0.1`` weights the *new* batch statistic
(``running = 0.9 * running + 0.1 * batch``); Flax's ``momentum=0.9`` weights the *old*
running value, so Flax 0.9 == PyTorch 0.1. One more difference: PyTorch updates the
running variance with the unbiased batch variance (``n / (n - 1)``), Flax with the biased
one. :func:`batch_norm` does what PyTorch does.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import choice, positive

IntPair = int | Sequence[int]


def _pair(name: str, value: IntPair, *, allow_zero: bool = False) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints; got {value!r}")
    if any(v < 0 or (v == 0 and not allow_zero) for v in pair):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}; "
                         f"got {value!r}")
    return pair  # type: ignore[return-value]


def _rank4(name: str, x: Array) -> None:
    if jnp.ndim(x) != 4:
        raise ValueError(f"{name} must be 4-D (n, h, w, c); got shape {jnp.shape(x)}")


def output_size(n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """PyTorch's output length of a conv or pool along one axis of length ``n``."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def nchw_to_nhwc(x: Array) -> Array:
    """(n, c, h, w) -> (n, h, w, c)."""
    _rank4("x", x)
    return jnp.transpose(x, (0, 2, 3, 1))


def nhwc_to_nchw(x: Array) -> Array:
    """(n, h, w, c) -> (n, c, h, w)."""
    _rank4("x", x)
    return jnp.transpose(x, (0, 3, 1, 2))


def torch_to_flax_kernel(w: Array) -> Array:
    """PyTorch conv weight (out, in, kh, kw) -> Flax kernel (kh, kw, in, out)."""
    if jnp.ndim(w) != 4:
        raise ValueError(f"w must be 4-D (out, in, kh, kw); got shape {jnp.shape(w)}")
    return jnp.transpose(w, (2, 3, 1, 0))


def flax_to_torch_kernel(kernel: Array) -> Array:
    """Flax kernel (kh, kw, in, out) -> PyTorch conv weight (out, in, kh, kw)."""
    if jnp.ndim(kernel) != 4:
        raise ValueError(f"kernel must be 4-D (kh, kw, in, out); got shape {jnp.shape(kernel)}")
    return jnp.transpose(kernel, (3, 2, 0, 1))


CONV_IMPLS = ("auto", "xla", "slices")


def conv2d(x: Array, kernel: Array, bias: Array | None = None, *, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1,
           impl: str = "xla") -> Array:
    """``F.conv2d`` in NHWC: x (n, h, w, in) float, kernel (kh, kw, in // groups, out),
    bias (out,) or None -> (n, h', w', out), h' = :func:`output_size` (cross-correlation,
    as PyTorch, no kernel flip).

    impl: ``'xla'`` is ``lax.conv_general_dilated``. ``'slices'`` computes the same values
    as kh * kw shifted slices of x concatenated along channels and one matmul (im2col;
    ``groups`` must be 1): on XLA's CPU backend the gradient of a convolution inside a
    compiled loop (``lax.scan``, the engine's ``fused`` mode) falls on a slow path, and the
    slices and matmul do not. ``'auto'`` is ``'slices'`` on CPU, ``'xla'`` elsewhere.
    """
    _rank4("x", x)
    if jnp.ndim(kernel) != 4:
        raise ValueError(f"kernel must be 4-D (kh, kw, in, out); got shape {jnp.shape(kernel)}")
    if x.shape[-1] != kernel.shape[2] * groups:
        raise ValueError(f"x has {x.shape[-1]} channels but kernel expects "
                         f"{kernel.shape[2] * groups} (kernel shape {kernel.shape}, groups {groups})")
    choice("impl", impl, CONV_IMPLS)
    s, p, d = _pair("stride", stride), _pair("padding", padding, allow_zero=True), _pair(
        "dilation", dilation)
    if impl == "auto":
        impl = "slices" if jax.default_backend() == "cpu" and groups == 1 else "xla"
    if impl == "slices":
        if groups != 1:
            raise ValueError(f"impl='slices' needs groups == 1; got groups {groups}")
        y = _conv_slices(x, kernel, s, [(p[0], p[0]), (p[1], p[1])], d)
        return y if bias is None else y + bias
    y = jax.lax.conv_general_dilated(x, kernel, window_strides=s,
                                     padding=[(p[0], p[0]), (p[1], p[1])], rhs_dilation=d,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     feature_group_count=groups)
    return y if bias is None else y + bias


def _conv_slices(x: Array, kernel: Array, s, pads, d) -> Array:
    """im2col convolution: concat of kh * kw strided slices (n, h', w', kh*kw*in) @ kernel
    reshaped (kh*kw*in, out); the (i, j, c) order of the concat is the kernel's HWIO.
    pads: ((top, bottom), (left, right))."""
    kh, kw, cin, cout = kernel.shape
    x = jnp.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    ho = (x.shape[1] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (x.shape[2] - d[1] * (kw - 1) - 1) // s[1] + 1
    cols = [x[:, i * d[0]: i * d[0] + s[0] * (ho - 1) + 1: s[0],
              j * d[1]: j * d[1] + s[1] * (wo - 1) + 1: s[1], :]
            for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(cols, axis=-1)
    return patches @ kernel.reshape(kh * kw * cin, cout)


def conv_general_dilated(lhs: Array, rhs: Array, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         **kwargs):
    """``jax.lax.conv_general_dilated`` that takes :func:`conv2d`'s ``'slices'`` path on CPU.

    For ``flax.nnx.Conv(..., conv_general_dilated=conv_general_dilated)``: 2-D NHWC inputs,
    HWIO kernels, explicit padding, no input dilation, one group run as slices and a
    matmul on the CPU backend (fast gradients inside ``lax.scan``); anything else, and every
    other backend, goes to XLA's convolution unchanged.
    """
    nhwc = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, ("NHWC", "HWIO", "NHWC"))
    if (jax.default_backend() == "cpu" and lhs.ndim == 4 and feature_group_count == 1
            and not isinstance(padding, str) and all(v == 1 for v in lhs_dilation or (1, 1))
            and jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
            == nhwc):
        return _conv_slices(lhs, rhs, tuple(window_strides), padding,
                            tuple(rhs_dilation or (1, 1)))
    return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                        rhs_dilation, dimension_numbers, feature_group_count,
                                        **kwargs)


def _pool(x, kernel_size, stride, padding, init, op):
    _rank4("x", x)
    k = _pair("kernel_size", kernel_size)
    s = k if stride is None else _pair("stride", stride)
    p = _pair("padding", padding, allow_zero=True)
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"padding must be at most half of kernel_size; got padding {padding} "
                         f"and kernel_size {kernel_size}")
    return jax.lax.reduce_window(x, init, op, (1, *k, 1), (1, *s, 1),
                                 ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0))), k


def max_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """``F.max_pool2d`` in NHWC (padding counts as -inf); x (n, h, w, c) -> (n, h', w', c).

    Non-overlapping windows that tile x exactly (stride == kernel_size, no padding, the
    classic 2x2 pool) are a reshape and a max: the same values, and a gradient XLA's CPU
    backend runs several times faster than ``reduce_window``'s select-and-scatter (ties,
    which only exact repeats produce, share the gradient instead of one taking it all).
    """
    k = _pair("kernel_size", kernel_size)
    if (stride is None or _pair("stride", stride) == k) and _pair(
            "padding", padding, allow_zero=True) == (0, 0) and jnp.ndim(x) == 4:
        n, h, w, c = x.shape
        if h % k[0] == 0 and w % k[1] == 0:
            return x.reshape(n, h // k[0], k[0], w // k[1], k[1], c).max(axis=(2, 4))
    y, _ = _pool(x, kernel_size, stride, padding, -jnp.inf, jax.lax.max)
    return y


def avg_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """``F.avg_pool2d`` in NHWC with PyTorch's default ``count_include_pad=True``
    (zero padding counts in the mean); x (n, h, w, c) -> (n, h', w', c)."""
    y, k = _pool(x, kernel_size, stride, padding, 0.0, jax.lax.add)
    return y / (k[0] * k[1])


def upsample(x: Array, scale_factor: int, mode: str = "nearest") -> Array:
    """``F.interpolate(scale_factor=s, mode=...)`` in NHWC via ``jax.image.resize``.

    x (n, h, w, c) -> (n, h * s, w * s, c). mode ``'nearest'`` (each pixel repeated s × s)
    or ``'bilinear'`` (PyTorch's ``align_corners=False``: half-pixel centres, edge clamped).
    """
    _rank4("x", x)
    positive("scale_factor", scale_factor, integer=True)
    choice("mode", mode, ("nearest", "bilinear"))
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, h * scale_factor, w * scale_factor, c), method=mode,
                            antialias=False)


def batch_norm(x: Array, running_mean: Array, running_var: Array, scale: Array, bias: Array, *,
               train: bool, momentum: float = 0.1, eps: float = 1e-5
               ) -> tuple[Array, Array, Array]:
    """``F.batch_norm`` over the last (channel) axis, PyTorch's convention.

    x: (..., c); running_mean, running_var, scale, bias: (c,).
    train=True: normalise with the batch mean and biased variance over all other axes;
        running stats become ``(1 - momentum) * running + momentum * batch`` with the
        *unbiased* batch variance (PyTorch momentum 0.1 == Flax momentum 0.9).
    train=False: normalise with the running statistics, which are returned unchanged.
    Returns ``(y, running_mean, running_var)``.
    """
    c = x.shape[-1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("scale", scale), ("bias", bias)):
        if jnp.shape(v) != (c,):
            raise ValueError(f"{name} must have shape ({c},) to match x's channels; got "
                             f"{jnp.shape(v)}")
    if not train:
        y = (x - running_mean) / jnp.sqrt(running_var + eps) * scale + bias
        return y, running_mean, running_var
    axes = tuple(range(x.ndim - 1))
    count = x.size // c
    if count < 2:
        raise ValueError("batch_norm in train mode needs more than one value per channel; got "
                         f"x of shape {x.shape}")
    mean = jnp.mean(x, axes)
    var = jnp.var(x, axes)
    y = (x - mean) / jnp.sqrt(var + eps) * scale + bias
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * count / (count - 1)
    return y, new_mean, new_var
