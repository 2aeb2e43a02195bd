"""Convolution basics (seed 001, 什么是卷积 … Batch Norm): conv with stride, padding and
dilation, max/avg pooling, nearest/bilinear upsampling and batch-norm in train vs eval
mode, each checked against its formula. Layout NHWC / kernels (kh, kw, in, out) (Flax's);
``jaxbasics.conv`` converts from PyTorch's NCHW / (out, in, kh, kw).
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from experiments import _cli
from jaxbasics import conv
from jaxbasics.nn import stateful


def reference_conv(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int,
                   dilation: int) -> np.ndarray:
    """The definition, in NumPy: y[n,i,j,o] = sum_{a,b,c} xp[n, i*s + a*d, j*s + b*d, c] k[a,b,c,o]."""
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = kernel.shape[:2]
    ho = conv.output_size(x.shape[1], kh, stride=stride, padding=padding, dilation=dilation)
    wo = conv.output_size(x.shape[2], kw, stride=stride, padding=padding, dilation=dilation)
    y = np.zeros((x.shape[0], ho, wo, kernel.shape[3]), np.float64)
    for a, b in itertools.product(range(kh), range(kw)):
        patch = xp[:, a * dilation: a * dilation + stride * (ho - 1) + 1: stride,
                   b * dilation: b * dilation + stride * (wo - 1) + 1: stride]
        y += patch @ kernel[a, b]
    return y


def cases(kernels) -> list[tuple[int, int, int, int]]:
    """The (kernel, stride, padding, dilation) grid of the conv checks."""
    return list(itertools.product(kernels, (1, 2), (0, 2), (1, 2)))


def conv_outputs(key, size: int, kernels: tuple[int, ...]) -> dict:
    """Inputs (2, size, size, 3), a kernel per case and conv2d's output for each, and an
    ``nnx.Conv`` next to conv2d with its kernel. The input and every kernel come from one
    normal draw: each ``jax.random`` call inlines its own threefry hash, and 25 of them took
    1.2 s to compile where the 24 convolutions take 0.05 s (2-core Zen 4)."""
    grid = cases(kernels)
    shapes = [(2, size, size, 3)] + [(k, k, 3, 4) for k, *_ in grid]
    draws = jax.random.normal(key, (sum(math.prod(s) for s in shapes),))
    offsets = np.cumsum([0] + [math.prod(s) for s in shapes])
    x, *drawn = [draws[a:b].reshape(s) for a, b, s in zip(offsets, offsets[1:], shapes)]
    out = {"x": x, "kernels": [], "y": []}
    for kernel, (k, s, p, d) in zip(drawn, grid):
        out["kernels"].append(kernel)
        out["y"].append(conv.conv2d(x, kernel, stride=s, padding=p, dilation=d))
    out["example"] = conv.conv2d(x, jnp.zeros((3, 3, 3, 4)), stride=2, padding=1)
    # Flax's nnx.Conv uses the same layout: its output equals conv2d with its kernel.
    layer = nnx.Conv(3, 4, (3, 3), strides=2, padding=1, rngs=nnx.Rngs(0))
    out["nnx_gap"] = jnp.max(jnp.abs(layer(x) - conv.conv2d(x, layer.kernel[...], layer.bias[...],
                                                            stride=2, padding=1)))
    return out


def conv_checks(out: dict, size: int, kernels: tuple[int, ...]) -> dict:
    """Shapes and values of conv2d over a grid of (kernel, stride, padding, dilation) on
    (2, size, size, 3) inputs (:func:`conv_outputs`, fetched), against the NumPy definition."""
    worst, shapes_ok, grid = 0.0, True, cases(kernels)
    for (k, s, p, d), kernel, y in zip(grid, out["kernels"], out["y"]):
        ref = reference_conv(out["x"], kernel, s, p, d)
        o = conv.output_size(size, k, stride=s, padding=p, dilation=d)
        shapes_ok &= y.shape == ref.shape == (2, o, o, 4)
        worst = max(worst, float(np.max(np.abs(y - ref)) / np.max(np.abs(ref))))
    return {"conv_cases": len(grid), "conv_shapes_match_formula": bool(shapes_ok),
            "conv_max_rel_error": worst, "nnx_conv_vs_conv2d": float(out["nnx_gap"]),
            "example_shape_k3_s2_p1": list(out["example"].shape)}


# The pooling examples' input (2, 4, 4, 1): 0, 1, ..., 31.
POOL_X = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)


def pooled(x) -> dict:
    """Pooling and upsampling of x (2, 4, 4, 1)."""
    return {"max": conv.max_pool2d(x, 2), "avg": conv.avg_pool2d(x, 2),
            "max_k3_s2_p1": conv.max_pool2d(x, 3, 2, 1), "nearest": conv.upsample(x, 2, "nearest"),
            "bilinear": conv.upsample(x, 2, "bilinear")}


def pool_and_upsample_checks(out: dict) -> dict:
    """:func:`pooled` of ``POOL_X`` (fetched) against the reshaped blocks and the formulas."""
    x = POOL_X
    blocks = x.reshape(2, 2, 2, 2, 2, 1)
    max_ref, avg_ref = blocks.max(axis=(2, 4)), blocks.mean(axis=(2, 4))
    bil = out["bilinear"]
    # align_corners=False: output pixel 1 sits at source coordinate (1 + 0.5) / 2 - 0.5 = 0.25.
    bil_ref_01 = 0.75 * x[0, 0, 0, 0] + 0.25 * x[0, 0, 1, 0]
    return {"maxpool_2x2": bool(np.array_equal(out["max"], max_ref)),
            "avgpool_2x2": bool(np.allclose(out["avg"], avg_ref)),
            "maxpool_shape_k3_s2_p1": list(out["max_k3_s2_p1"].shape),
            "nearest_is_repeat": bool(np.array_equal(out["nearest"], x.repeat(2, 1).repeat(2, 2))),
            "bilinear_shape": list(bil.shape),
            "bilinear_pixel_0_1": float(bil[0, 0, 1, 0]), "bilinear_pixel_0_1_formula": float(bil_ref_01)}


def batch_norm_outputs(key) -> dict:
    """nnx.BatchNorm(momentum=0.9) in train then eval mode on x (16, 5, 5, 4), the formula,
    and the torch-style running mean of :func:`conv.batch_norm`."""
    x = 3.0 + 2.0 * jax.random.normal(key, (16, 5, 5, 4))
    apply, params, state = stateful(nnx.BatchNorm(4, momentum=0.9, rngs=nnx.Rngs(0)))
    y_train, state1 = apply(params, state, x, train=True)
    y_eval, state2 = apply(params, state1, x, train=False)
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    _, rm, _ = conv.batch_norm(x, jnp.zeros(4), jnp.ones(4), jnp.ones(4), jnp.zeros(4),
                               train=True, momentum=0.1)
    return {"y_train": y_train, "ref_train": (x - mean) / jnp.sqrt(var + 1e-5),
            "y_eval": y_eval,
            "ref_eval": (x - state1["mean"][...]) / jnp.sqrt(state1["var"][...] + 1e-5),
            "mean": mean, "running_mean": state1["mean"][...],
            "running_mean_after_eval": state2["mean"][...], "torch_running_mean": rm}


def batch_norm_checks(o: dict) -> dict:
    """nnx.BatchNorm(momentum=0.9) in train mode vs the formula; eval uses running stats
    (:func:`batch_norm_outputs`, fetched)."""
    return {"bn_train_error": float(np.max(np.abs(o["y_train"] - o["ref_train"]))),
            "bn_train_mean": float(np.abs(o["y_train"].mean())),
            "bn_running_mean": o["running_mean"].tolist(),
            "bn_running_mean_formula": (0.1 * o["mean"]).tolist(),
            "flax_0.9_equals_torch_0.1": bool(np.allclose(o["running_mean"],
                                                          o["torch_running_mean"], atol=1e-6)),
            "bn_eval_error": float(np.max(np.abs(o["y_eval"] - o["ref_eval"]))),
            "bn_eval_keeps_stats": bool(np.array_equal(o["running_mean"],
                                                       o["running_mean_after_eval"]))}


def outputs(k_conv, k_bn, size: int, kernels: tuple[int, ...]) -> dict:
    """Every check's arrays from the two keys: traced into the one program (the quick
    pipeline: it runs once) that ``_cli.seeded`` compiles with the keys. Four programs (the
    keys, the convolutions, the pools, the batch-norm) compiled in 0.49 s, this one in
    0.3 s (2-core Zen 4)."""
    return {"conv": conv_outputs(k_conv, size, kernels), "pool": pooled(POOL_X),
            "bn": batch_norm_outputs(k_bn)}


def body(args) -> _cli.Outcome:
    size, kernels = (12, (1, 3)) if args.quick else (28, (1, 3, 5))
    out = jax.device_get(_cli.seeded(outputs, args.seed, 2, size, kernels))
    r = {**conv_checks(out["conv"], size, kernels), **pool_and_upsample_checks(out["pool"]),
         **batch_norm_checks(out["bn"])}
    side = 6 if args.quick else 14  # (12 + 2 - 2 - 1) // 2 + 1, (28 + 2 - 2 - 1) // 2 + 1
    ok = (r["conv_shapes_match_formula"] and r["conv_max_rel_error"] < 1e-5
          and r["nnx_conv_vs_conv2d"] < 1e-5 and r["example_shape_k3_s2_p1"] == [2, side, side, 4]
          and r["maxpool_2x2"] and r["avgpool_2x2"] and r["maxpool_shape_k3_s2_p1"] == [2, 2, 2, 1]
          and r["nearest_is_repeat"] and abs(r["bilinear_pixel_0_1"] - r["bilinear_pixel_0_1_formula"]) < 1e-6
          and r["bn_train_error"] < 1e-4 and r["flax_0.9_equals_torch_0.1"]
          and r["bn_eval_error"] < 1e-4 and r["bn_eval_keeps_stats"])
    reference = {"conv_max_rel_error": 1e-5, "example_shape_k3_s2_p1": [2, side, side, 4],
                 "maxpool_shape_k3_s2_p1": [2, 2, 2, 1], "bilinear_shape": [2, 8, 8, 1],
                 "bn_train_error": 1e-4, "bn_eval_error": 1e-4}
    return _cli.Outcome(r, reference, bool(ok))


def main(argv=None) -> dict:
    return _cli.run("conv_basics", __doc__, body, argv, default_mode="jit")


if __name__ == "__main__":
    main()
