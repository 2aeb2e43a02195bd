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

import functools
import numbers
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxbasics._checks import choice, positive

IntPair = int | Sequence[int]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)  # np.int64 too


def _pair(name: str, value: IntPair, *, allow_zero: bool = False) -> tuple[int, int]:
    pair = (value, value) if _is_int(value) else tuple(value) if isinstance(
        value, (tuple, list)) else ()
    if len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints; got {value!r}")
    if any(v < 0 or (v == 0 and not allow_zero) for v in pair):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}; "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_output(what: str, x: Array, k, s, p, d=(1, 1)) -> None:
    """Refuse a window larger than the padded input (PyTorch: "Output size is too small");
    XLA would return an empty array."""
    out = [output_size(n, kk, stride=ss, padding=pp, dilation=dd)
           for n, kk, ss, pp, dd in zip(x.shape[1:3], k, s, p, d)]
    if min(out) < 1:
        raise ValueError(f"{what}'s output would be {out[0]}x{out[1]}: the window "
                         f"{(k[0] - 1) * d[0] + 1}x{(k[1] - 1) * d[1] + 1} is larger than the "
                         f"input {x.shape[1]}x{x.shape[2]} padded by {p[0]}, {p[1]}")


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
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1,
           impl: str = "xla") -> Array:
    """``F.conv2d`` in NHWC: x (n, h, w, in) float, kernel (kh, kw, in // groups, out),
    bias (out,) or None -> (n, h', w', out), h' = :func:`output_size` (cross-correlation,
    as PyTorch, no kernel flip).

    impl: ``'xla'`` is ``lax.conv_general_dilated``. ``'slices'`` computes the same values
    as shifted slices of x and one matmul (``groups`` must be 1): kh * kw slices
    concatenated along channels (im2col), or for fewer than ``ROWS_BELOW_CHANNELS`` input
    channels blocks of whole rows times a banded matrix built from the kernel: on XLA's CPU
    backend the gradient of a convolution inside a compiled loop (``lax.scan``, the engine's
    ``fused`` mode) falls on a slow path, and the slices and matmul do not. ``'auto'`` is
    ``'slices'`` on CPU, ``'xla'`` elsewhere.

    padding: an int or pair (zeros on both sides), or PyTorch's strings ``'valid'`` (0) and
    ``'same'`` (stride 1 only; total dilation·(k-1), the odd one on the bottom/right, so an
    even kernel pads asymmetrically, as PyTorch does).
    """
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)  # (nested lists too, as torch.tensor)
    if isinstance(padding, str):
        x, padding = _string_padding(x, kernel, padding, stride, dilation), 0
    _rank4("x", x)
    if jnp.ndim(kernel) != 4:
        raise ValueError(f"kernel must be 4-D (kh, kw, in, out); got shape {jnp.shape(kernel)}")
    if x.shape[-1] != kernel.shape[2] * groups:
        raise ValueError(f"x has {x.shape[-1]} channels but kernel expects "
                         f"{kernel.shape[2] * groups} (kernel shape {kernel.shape}, "
                         f"groups {groups})")
    if kernel.shape[3] % groups:
        raise ValueError(f"groups ({groups}) must divide the kernel's {kernel.shape[3]} output "
                         f"channels (kernel shape {kernel.shape})")
    if bias is not None and jnp.shape(bias) != (kernel.shape[3],):
        raise ValueError(f"bias must have shape ({kernel.shape[3]},), one per output channel; "
                         f"got {jnp.shape(bias)}")
    if jnp.result_type(x) != jnp.result_type(kernel):
        raise TypeError(f"x is {jnp.result_type(x)} but kernel is {jnp.result_type(kernel)}; "
                        "cast one (PyTorch refuses mixed types too), e.g. "
                        "x.astype(kernel.dtype)")
    choice("impl", impl, CONV_IMPLS)
    s, p, d = _pair("stride", stride), _pair("padding", padding, allow_zero=True), _pair(
        "dilation", dilation)
    _check_output("conv2d", x, kernel.shape[:2], s, p, d)
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


# Below this many input channels the slices are whole rows (see _conv_rows); from it on
# kh * kw slices (im2col). Measured on a Zen 4 (AVX-512) CPU, fused epochs: LeNet (1 and 6
# channels) took 0.6x the im2col time, the ResNet's stem (1 channel) 0.95x, while row
# blocks for all of the ResNet's convolutions (16 to 64 channels) made its epoch 1.3-3.1x
# as slow.
ROWS_BELOW_CHANNELS = 8
# Output columns per matrix row in _conv_rows: LeNet's epoch took 0.91-0.93x the CPU time
# with 4 as with 8 (fewer wasted multiply-adds), the ResNet's stem the same.
ROW_BLOCK = 4


def _conv_slices(x: Array, kernel: Array, s, pads, d) -> Array:
    """The convolution as slices of x and one matmul: :func:`_conv_rows` for fewer than
    ``ROWS_BELOW_CHANNELS`` input channels, :func:`_im2col` from it on. x (n, h, w, in),
    kernel (kh, kw, in, out) -> (n, h', w', out); pads: ((top, bottom), (left, right))."""
    x = jnp.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    conv = _conv_rows if kernel.shape[2] < ROWS_BELOW_CHANNELS else _im2col
    return conv(x, kernel, s, d)


def _im2col(x: Array, kernel: Array, s, d) -> Array:
    """im2col convolution of padded x: concat of kh * kw strided slices
    (n, h', w', kh*kw*in) @ kernel reshaped (kh*kw*in, out); the (i, j, c) order of the
    concat is the kernel's HWIO."""
    kh, kw, cin, cout = kernel.shape
    ho = (x.shape[1] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (x.shape[2] - d[1] * (kw - 1) - 1) // s[1] + 1
    cols = [x[:, i * d[0]: i * d[0] + s[0] * (ho - 1) + 1: s[0],
              j * d[1]: j * d[1] + s[1] * (wo - 1) + 1: s[1], :]
            for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(cols, axis=-1)
    return patches @ kernel.reshape(kh * kw * cin, cout)


def _conv_rows(x: Array, kernel: Array, s, d, block: int = ROW_BLOCK) -> Array:
    """Row-block convolution of padded x, for few input channels, where im2col's
    (kh*kw*in, out) matmul is too thin to run fast.

    Each output row is cut into blocks of ``block`` columns; a block reads kh input rows of
    ``span = (block - 1) * sw + dw * (kw - 1) + 1`` columns, flattened to (kh*span*in,), and
    one matmul with a banded matrix (kh*span*in, block*out) built from the kernel (entry
    [i, sw*q + dw*j, c; q, o] = kernel[i, j, c, o], else 0) gives the block's outputs:
    (n*h'*blocks, kh*span*in) @ (kh*span*in, block*out). It does span/kw times im2col's
    multiply-adds in a wider matmul and reads x kh*span/block times instead of kh*kw.
    """
    kh, kw, cin, cout = kernel.shape
    n = x.shape[0]
    ho = (x.shape[1] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (x.shape[2] - d[1] * (kw - 1) - 1) // s[1] + 1
    block = min(block, wo)
    blocks = -(-wo // block)
    span = (block - 1) * s[1] + d[1] * (kw - 1) + 1
    width = (blocks - 1) * block * s[1] + span
    x = jnp.pad(x, ((0, 0), (0, 0), (0, max(width - x.shape[2], 0)), (0, 0)))
    rows = jnp.stack([jnp.stack([x[:, i * d[0]: i * d[0] + s[0] * (ho - 1) + 1: s[0],
                                   b * block * s[1]: b * block * s[1] + span]
                                 for i in range(kh)], 2) for b in range(blocks)], 2)
    band = np.zeros((kw, span, block), kernel.dtype)
    for j in range(kw):
        band[j, s[1] * np.arange(block) + d[1] * j, np.arange(block)] = 1
    matrix = jnp.einsum("jvq,ijco->ivcqo", band, kernel).reshape(kh * span * cin, block * cout)
    y = rows.reshape(n * ho * blocks, kh * span * cin) @ matrix
    return y.reshape(n, ho, blocks * block, cout)[:, :, :wo]


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
    _check_output("the pooling", x, k, s, p)
    return jax.lax.reduce_window(x, init, op, (1, *k, 1), (1, *s, 1),
                                 ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0))), k


def max_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """``F.max_pool2d`` in NHWC (padding counts as -inf); x (n, h, w, c) -> (n, h', w', c).

    Non-overlapping windows that tile x exactly (stride == kernel_size, no padding, the
    classic 2x2 pool) are a reshape and a max, whose ties share the gradient instead of
    the first taking it all as in PyTorch (see :func:`_tiled_max_bwd`). Other windows
    (overlapping, such as GoogLeNet's 3x3 at stride 1, or padded) are the elementwise
    maximum of the window's strided slices, and give the whole gradient to the first
    maximum, as PyTorch does (see :func:`_window_max_bwd`). Both have their own backward,
    which XLA's CPU backend runs several times faster than ``lax.reduce_window``'s
    gradient; being ``jax.custom_vjp`` functions they differentiate in reverse mode only
    (``jax.grad``, ``jax.vjp``; not ``jax.jvp`` or ``jax.hessian``).
    """
    k = _pair("kernel_size", kernel_size)
    if (stride is None or _pair("stride", stride) == k) and _pair(
            "padding", padding, allow_zero=True) == (0, 0) and jnp.ndim(x) == 4:
        n, h, w, c = x.shape
        if h % k[0] == 0 and w % k[1] == 0:
            return _tiled_max(x, k)
    _rank4("x", x)
    s = k if stride is None else _pair("stride", stride)
    p = _pair("padding", padding, allow_zero=True)
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"padding must be at most half of kernel_size; got padding {padding} "
                         f"and kernel_size {kernel_size}")
    _check_output("max_pool2d", x, k, s, p)
    return _window_max(x, k, s, p)


def _window_slices(xp: Array, k, s, out) -> list[Array]:
    """The kh * kw strided slices of padded xp, in row-major window order, each
    (n, h', w', c) with ``out`` = (h', w'): slice (i, j) holds every window's element (i, j)."""
    return [xp[:, i: i + s[0] * (out[0] - 1) + 1: s[0], j: j + s[1] * (out[1] - 1) + 1: s[1]]
            for i in range(k[0]) for j in range(k[1])]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _window_max(x: Array, k, s, p) -> Array:
    """Max pooling of any windows (overlapping ones too) as the elementwise maximum of the
    window's kh * kw strided slices of x padded with -inf."""
    return _window_max_fwd(x, k, s, p)[0]


def _window_max_fwd(x, k, s, p):
    xp = jnp.pad(x, ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0)), constant_values=-jnp.inf)
    out = tuple(output_size(n, kk, stride=ss) for n, kk, ss in zip(xp.shape[1:3], k, s))
    y = functools.reduce(jnp.maximum, _window_slices(xp, k, s, out))
    return y, (xp, y)


def _window_max_bwd(k, s, p, residuals, g):
    """Each window's gradient to its first maximum in row-major order, PyTorch's argmax
    (and XLA's select-and-scatter's), added back at that element's place: one masked,
    strided pad per window position. XLA's CPU backend runs ``reduce_window``'s gradient
    (a select-and-scatter after a reduce-window that tracks indices) several times slower:
    on a Zen 4 the GoogLeNet epoch, whose Inception blocks pool 3x3 windows at stride 1,
    took 0.7x the time this way."""
    xp, y = residuals
    out = y.shape[1:3]
    slices = _window_slices(xp, k, s, out)
    # The first maximum's position, by a reduction XLA computes once: written as a chain of
    # selects it was fused into the sum below and recomputed for every window position.
    first = jnp.argmax(jnp.stack(slices, axis=-1), axis=-1)
    dxp = jnp.zeros(xp.shape, g.dtype)
    for q in range(len(slices)):
        i, j = divmod(q, k[1])
        at = [(0, 0, 0), (i, xp.shape[1] - i - s[0] * (out[0] - 1) - 1, s[0] - 1),
              (j, xp.shape[2] - j - s[1] * (out[1] - 1) - 1, s[1] - 1), (0, 0, 0)]
        dxp = dxp + jax.lax.pad(jnp.where(first == q, g, 0), jnp.zeros((), g.dtype), at)
    return (dxp[:, p[0]: xp.shape[1] - p[0], p[1]: xp.shape[2] - p[1]],)


_window_max.defvjp(_window_max_fwd, _window_max_bwd)


def _windows(x: Array, k: tuple[int, int]) -> Array:
    """x (n, h, w, c) as its k-windows, (n, h // kh, kh, w // kw, kw, c)."""
    n, h, w, c = x.shape
    return x.reshape(n, h // k[0], k[0], w // k[1], k[1], c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tiled_max(x: Array, k: tuple[int, int]) -> Array:
    """The max of each window of non-overlapping windows that tile x: (n, h/kh, w/kw, c)."""
    return _windows(x, k).max(axis=(2, 4))


def _tiled_max_fwd(x, k):
    y = _tiled_max(x, k)
    return y, (x, y)


def _tiled_max_bwd(k, residuals, g):
    """JAX's gradient of a max, ``(x == y) * (g / ties)`` (ties share the gradient; they
    are common: a constant background gives equal values), with the ties counted by adding
    the window's kh * kw comparisons elementwise. XLA's CPU backend runs the reductions
    over the window axes that JAX's own rule uses several times slower: on a Zen 4 the
    fused LeNet epoch took 0.8x the time this way. PyTorch gives a tied window's whole
    gradient to its first maximum; written that way here (a select per position) the
    epoch was no faster than JAX's rule, so the shared gradient stays."""
    x, y = residuals
    xs = _windows(x, k)
    hits = [[xs[:, :, i, :, j, :] == y for j in range(k[1])] for i in range(k[0])]
    share = g / sum(h.astype(g.dtype) for row in hits for h in row)
    grad = jnp.stack([jnp.stack([h * share for h in row], axis=3) for row in hits], axis=2)
    return (grad.reshape(x.shape),)


_tiled_max.defvjp(_tiled_max_fwd, _tiled_max_bwd)


def avg_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, count_include_pad: bool = True) -> Array:
    """``F.avg_pool2d`` in NHWC; x (n, h, w, c) -> (n, h', w', c). With PyTorch's default
    ``count_include_pad=True`` the zero padding counts in the mean; with ``False`` each
    window is divided by the number of real pixels in it."""
    y, k = _pool(x, kernel_size, stride, padding, 0.0, jax.lax.add)
    if count_include_pad:
        return y / (k[0] * k[1])
    counts, _ = _pool(jnp.ones((1, *x.shape[1:3], 1), y.dtype), kernel_size, stride, padding,
                      0.0, jax.lax.add)
    return y / counts


def upsample(x: Array, scale_factor: int, mode: str = "nearest") -> Array:
    """``F.interpolate(scale_factor=s, mode=...)`` for an integer s in NHWC: x (n, h, w, c)
    -> (n, h * s, w * s, c). mode ``'nearest'`` (each pixel repeated s × s) or
    ``'bilinear'`` (PyTorch's ``align_corners=False``: half-pixel centres, edge clamped);
    :func:`interpolate` does the work.
    """
    _rank4("x", x)
    positive("scale_factor", scale_factor, integer=True)
    choice("mode", mode, ("nearest", "bilinear"))
    return interpolate(x, scale_factor=scale_factor, mode=mode)


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
    if not isinstance(momentum, (int, float)) or isinstance(momentum, bool):
        raise TypeError(f"momentum must be a number in [0, 1]; got {momentum!r} (PyTorch's "
                        "momentum=None, a cumulative average, needs the count of batches seen: "
                        "keep it beside the statistics and pass 1 / count)")
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


# ---- PyTorch functions added for parity (thin layers over lax) ----

def _string_padding(x: Array, kernel: Array, padding: str, stride: IntPair,
                    dilation: IntPair) -> Array:
    """x zero-padded for ``padding='same'`` (asymmetric for even kernels) or ``'valid'``."""
    choice("padding", padding, ("same", "valid"))
    if padding == "valid":
        return x
    if _pair("stride", stride) != (1, 1):
        raise ValueError(f"padding='same' needs stride 1 (as PyTorch); got stride {stride!r}")
    _rank4("x", x)
    d = _pair("dilation", dilation)
    pads = []
    for k, dd in zip(jnp.shape(kernel)[:2], d):
        total = dd * (k - 1)
        pads.append((total // 2, total - total // 2))
    return jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


INTERPOLATE_MODES = ("nearest", "nearest-exact", "bilinear")


def interpolate(x: Array, size: IntPair | None = None, scale_factor: float | None = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Array:
    """``F.interpolate`` for images in NHWC: x (n, h, w, c) float -> (n, h', w', c).

    Give ``size`` (h', w') or ``scale_factor`` (h' = floor(h·s)), as in PyTorch. Source
    coordinates are PyTorch's, in float32 as its CPU kernels compute them, with
    ``scale = h / h'`` when ``size`` is given or ``recompute_scale_factor=True``, else
    ``1 / scale_factor`` (PyTorch's default; the two differ for factors such as 0.5 on odd
    sizes):

    - ``'nearest'`` (PyTorch's legacy rule): source row floor(i·scale);
    - ``'nearest-exact'``: floor((i + 0.5)·scale), pixel centres;
    - ``'bilinear'``, ``align_corners=False`` (default): src = max((i + 0.5)·scale - 0.5, 0),
      the two neighbours weighted linearly, the last row repeated past the edge;
      ``align_corners=True``: src = i·(h - 1)/(h' - 1), corner to corner (0 when h' = 1).

    No antialiasing (PyTorch's default). Every index is a constant of the program; the
    result is gathers and a weighted sum, differentiable in x.
    """
    _rank4("x", x)
    choice("mode", mode, INTERPOLATE_MODES)
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor")
    if align_corners is not None and mode != "bilinear":
        raise ValueError(f"align_corners only applies to mode='bilinear'; got mode {mode!r}")
    if recompute_scale_factor is not None and size is not None:
        raise ValueError("recompute_scale_factor only applies with scale_factor, not size")
    h, w = x.shape[1:3]
    if size is None:
        factors = _pair_of("scale_factor", scale_factor, float)
        out = tuple(int(np.floor(n * s)) for n, s in zip((h, w), factors))
        scales = [None if recompute_scale_factor else np.float32(1.0 / s) for s in factors]
    else:
        out, scales = _pair("size", size), [None, None]
    if min(out) < 1:
        raise ValueError(f"interpolate's output would be {out[0]}x{out[1]} from {h}x{w}; "
                         "size and scale_factor must give at least one row and column")
    for axis, n_in, n_out, scale in zip((1, 2), (h, w), out, scales):
        x = _resample(x, axis, *_source(n_in, n_out, scale, mode, bool(align_corners)))
    return x


def _pair_of(name: str, value, kind: type) -> tuple:
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, float, np.number)) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive number or a pair of them; got {value!r}")
    return tuple(kind(v) for v in pair)


def _source(n_in: int, n_out: int, scale, mode: str, align_corners: bool):
    """PyTorch's source rows for one axis (upsample kernels, float32): (i0, i1, weight of
    i1), numpy; ``weight`` is None for the nearest modes."""
    f32 = np.float32
    i = np.arange(n_out)
    if mode == "bilinear" and align_corners:
        src = i.astype(f32) * (f32(n_in - 1) / f32(n_out - 1) if n_out > 1 else f32(0))
    else:
        scale = f32(n_in) / f32(n_out) if scale is None else f32(scale)
        if mode == "bilinear":
            src = np.maximum(scale * (i.astype(f32) + f32(0.5)) - f32(0.5), f32(0))
        elif mode == "nearest-exact":
            src = np.floor(((i + 0.5) * np.float64(scale)).astype(f32))
        else:
            src = np.floor(i.astype(f32) * scale)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    if mode != "bilinear":
        return i0, None, None
    return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(f32)


def _resample(x: Array, axis: int, i0, i1, weight) -> Array:
    """x's rows i0 along ``axis``, or (1 - weight)·x[i0] + weight·x[i1]."""
    a = jnp.take(x, i0, axis=axis)
    if weight is None:
        return a
    shape = [1] * x.ndim
    shape[axis] = len(weight)
    w1 = jnp.asarray(weight.reshape(shape), x.dtype)
    w0 = jnp.asarray((np.float32(1) - weight).reshape(shape), x.dtype)
    return w0 * a + w1 * jnp.take(x, i1, axis=axis)


def adaptive_avg_pool2d(x: Array, output_size: IntPair) -> Array:
    """``F.adaptive_avg_pool2d`` in NHWC: x (n, h, w, c) -> (n, oh, ow, c).

    Output cell i averages rows floor(i·h/oh) .. ceil((i+1)·h/oh) - 1 (PyTorch's bins,
    overlapping when oh does not divide h); ``output_size=1`` is the global average pooling
    of GoogLeNet/ResNet heads. Written as two small averaging matrices and an einsum.
    """
    _rank4("x", x)
    oh, ow = _pair("output_size", output_size)

    def bins(n_in: int, n_out: int) -> Array:
        i = jnp.arange(n_out)[:, None]
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        j = jnp.arange(n_in)[None, :]
        member = ((j >= start) & (j < end)).astype(x.dtype)
        return member / member.sum(axis=1, keepdims=True)

    return jnp.einsum("ah,nhwc,bw->nabc", bins(x.shape[1], oh), x, bins(x.shape[2], ow))


def conv_transpose2d(x: Array, kernel: Array, bias: Array | None = None, *,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     dilation: IntPair = 1) -> Array:
    """``F.conv_transpose2d`` in NHWC via ``lax.conv_transpose`` (the gradient of conv2d).

    x (n, h, w, in); kernel (kh, kw, in, out): PyTorch's ConvTranspose2d weight
    (in, out, kh, kw) is ``w.transpose(2, 3, 0, 1)`` (note: not :func:`torch_to_flax_kernel`,
    whose (out, in) order is the plain conv's); bias (out,) or None.
    h' = (h - 1)·stride - 2·padding + dilation·(kh - 1) + output_padding + 1.
    PyTorch flips the kernel spatially (``transpose_kernel=True``);
    ``flax.nnx.ConvTranspose`` by default does not.
    """
    _rank4("x", x)
    if jnp.ndim(kernel) != 4 or kernel.shape[2] != x.shape[-1]:
        raise ValueError(f"kernel must be (kh, kw, {x.shape[-1]}, out) for x with "
                         f"{x.shape[-1]} channels; got shape {jnp.shape(kernel)}")
    s, p = _pair("stride", stride), _pair("padding", padding, allow_zero=True)
    op, d = _pair("output_padding", output_padding, allow_zero=True), _pair("dilation", dilation)
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise ValueError(f"output_padding must be smaller than stride or dilation; got "
                         f"{output_padding!r}")
    pads = [(di * (k - 1) - pi, di * (k - 1) - pi + oi)
            for k, pi, di, oi in zip(kernel.shape[:2], p, d, op)]
    y = jax.lax.conv_transpose(x, kernel, s, pads, rhs_dilation=d,
                               dimension_numbers=("NHWC", "HWOI", "NHWC"), transpose_kernel=True)
    return y if bias is None else y + bias


def layer_norm(x: Array, normalized_shape: int | Sequence[int], weight: Array | None = None,
               bias: Array | None = None, eps: float = 1e-5) -> Array:
    """``F.layer_norm``: normalise over the last ``len(normalized_shape)`` axes with the
    biased variance, then ``* weight + bias`` (both of shape normalized_shape, or None).

    x: (..., *normalized_shape). The module version is ``flax.nnx.LayerNorm``, whose
    ``epsilon`` defaults to 1e-6 (PyTorch's ``eps`` 1e-5) and which normalises only the
    last axis unless ``reduction_axes`` says otherwise.
    """
    x = jnp.asarray(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(jnp.shape(x)[x.ndim - len(shape):]) != shape:
        raise ValueError(f"x must end with normalized_shape {shape}; got shape {jnp.shape(x)}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = jnp.mean(x, axes, keepdims=True)
    y = (x - mean) * jax.lax.rsqrt(jnp.var(x, axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias
