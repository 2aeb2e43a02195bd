"""tensor_basics, part 1 (seed 001 §14-26): dtypes, creation, random, indexing and slicing,
reshaping, transposing (the transpose-then-reshape corruption and its fix), broadcasting.

Each function returns ``(result, seed)``: what the JAX code computes, and the seed's printed
output for the same example (only where the seed prints one). Examples that only show a
shape, or that the shape rules reject, are traced with ``jax.eval_shape``: no data, no
compilation, the same rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics import tensor


def r4(x):
    """x as nested lists rounded to the seed's 4 printed decimals."""
    return np.round(np.asarray(x, np.float64), 4).tolist()


def shape(x) -> list[int]:
    return list(jnp.shape(x))


def shapes(f, *args) -> dict[str, list[int]]:
    """{name: shape} of the dict of arrays ``f(*args)`` returns, by tracing only."""
    return {k: list(v.shape) for k, v in jax.eval_shape(f, *args).items()}


def _fails(f) -> str:
    """'error' if tracing ``f()`` raises a shape/type error (as PyTorch would), else 'ok'."""
    try:
        jax.eval_shape(f)
    except (TypeError, ValueError, IndexError):
        return "error"
    return "ok"


def dtypes_and_creation(key):
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    res, seed = {}, {}
    res["dtype: jnp.asarray(1.3) / from list [1, 2] / from numpy np.ones(2)"] = [
        str(jnp.asarray(1.3).dtype), str(jnp.asarray([1, 2]).dtype),
        str(jnp.asarray(np.ones(2)).dtype)]  # float64 numpy -> float32 (x64 off)
    res["ndim of 1.3 / [1.3]"] = [jnp.ndim(jnp.asarray(1.3)), jnp.ndim(jnp.asarray([1.3]))]
    seed["ndim of 1.3 / [1.3]"] = [0, 1]
    res["full([10], 0)"] = jnp.full(10, 0.0).tolist()
    seed["full([10], 0)"] = [0.0] * 10
    res["full([8], 1).dtype"] = str(jnp.full(8, 1).dtype)  # an integer, as torch today
    res["arange(1, 0, -0.1)"] = r4(jnp.arange(1, 0, -0.1))
    seed["arange(1, 0, -0.1)"] = r4(np.linspace(1, 0.1, 10))
    res["linspace(0, 10, steps=4)"] = r4(jnp.linspace(0, 10, 4))
    seed["linspace(0, 10, steps=4)"] = [0.0, 3.3333, 6.6667, 10.0]
    res["logspace(0, -1, steps=10)"] = r4(jnp.logspace(0, -1, 10))
    seed["logspace(0, -1, steps=10)"] = r4(10.0 ** np.linspace(0, -1, 10))
    res["eye(3, 4)"] = jnp.eye(3, 4).tolist()
    seed["eye(3, 4)"] = [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]
    u = jax.random.uniform(k1, (3, 3))                      # torch.rand: [0, 1)
    n = jax.random.normal(k2, (10_000,))                    # torch.randn: N(0, 1)
    i = jax.random.randint(k3, (3, 3), 1, 10)               # torch.randint(1, 10, [3, 3])
    g = 1.0 + 0.5 * jax.random.normal(k4, (10_000,))        # torch.normal(mean=1, std=0.5)
    res["rand in [0,1), randint in [1,10)"] = bool((u >= 0).all() & (u < 1).all()
                                                   & (i >= 1).all() & (i < 10).all())
    seed["rand in [0,1), randint in [1,10)"] = True
    res["randn mean, std (2 decimals)"] = [round(float(n.mean()), 1), round(float(n.std()), 1)]
    seed["randn mean, std (2 decimals)"] = [0.0, 1.0]
    res["normal(1, 0.5) mean, std"] = [round(float(g.mean()), 1), round(float(g.std()), 1)]
    seed["normal(1, 0.5) mean, std"] = [1.0, 0.5]
    # One permutation shuffles two arrays consistently (names + maths, names + Chinese).
    maths, chinese = jnp.array([[0, 90], [1, 70], [2, 80]]), jnp.array([[0, 60], [1, 99], [2, 75]])
    idx = jax.random.permutation(k5, 3)                     # torch.randperm(3)
    res["randperm shuffles both by one index: ids equal"] = bool(
        (maths[idx][:, 0] == chinese[idx][:, 0]).all())
    seed["randperm shuffles both by one index: ids equal"] = True
    return res, seed


def indexing(key):
    a = jax.ShapeDtypeStruct((4, 3, 28, 28), jnp.float32)   # torch.rand(4, 3, 28, 28)
    res = shapes(lambda a: {
        "a[0].shape": a[0], "a[0, 0].shape": a[0, 0], "a[0, 0, 2, 4].shape": a[0, 0, 2, 4],
        "a[:2].shape": a[:2], "a[:2, :1].shape": a[:2, :1],
        "a[:2, 1:].shape": a[:2, 1:], "a[:2, -1:].shape": a[:2, -1:],
        "a[:, :, 0:28:2, 0:28:2].shape": a[:, :, 0:28:2, 0:28:2],
        "a[:, :, ::2, ::2].shape": a[:, :, ::2, ::2],
        "index_select(a, 0, [0, 2]).shape": jnp.take(a, jnp.array([0, 2]), axis=0),
        "index_select(a, 1, [1, 2]).shape": jnp.take(a, jnp.array([1, 2]), axis=1),
        "a[...].shape": a[...], "a[0, ...].shape": a[0, ...],
        "a[:, 1, ...].shape": a[:, 1, ...], "a[..., :2].shape": a[..., :2]}, a)
    seed = {"a[0].shape": [3, 28, 28], "a[0, 0].shape": [28, 28], "a[0, 0, 2, 4].shape": [],
            "a[:2].shape": [2, 3, 28, 28], "a[:2, :1].shape": [2, 1, 28, 28],
            "a[:2, 1:].shape": [2, 2, 28, 28], "a[:2, -1:].shape": [2, 1, 28, 28],
            "a[:, :, 0:28:2, 0:28:2].shape": [4, 3, 14, 14],
            "a[:, :, ::2, ::2].shape": [4, 3, 14, 14],
            "index_select(a, 0, [0, 2]).shape": [2, 3, 28, 28],
            "index_select(a, 1, [1, 2]).shape": [4, 2, 28, 28],
            "a[...].shape": [4, 3, 28, 28], "a[0, ...].shape": [3, 28, 28],
            "a[:, 1, ...].shape": [4, 28, 28], "a[..., :2].shape": [4, 3, 28, 2]}
    x = jnp.array([[0.1, 0.7, -1.0], [0.5, 2.0, 0.4]])
    mask = x >= 0.5                                         # x.ge(0.5)
    res["masked_select(x, x >= 0.5)"] = r4(x[mask])   # eager only: data-dependent size
    seed["masked_select(x, x >= 0.5)"] = [0.7, 0.5, 2.0]
    res["(x >= 0.5) as 0/1"] = mask.astype(jnp.int32).tolist()
    src = jnp.array([[4, 3, 5], [6, 7, 8]])
    res["take(src, [0, 2, 5])"] = jnp.take(src, jnp.array([0, 2, 5])).tolist()
    seed["take(src, [0, 2, 5])"] = [4, 5, 8]
    y = jnp.zeros(3)
    res["x.at[1].set(5): old, new"] = [y.tolist(), y.at[1].set(5.0).tolist()]
    seed["x.at[1].set(5): old, new"] = [[0.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    return res, seed


def reshaping(key):
    k1, _ = jax.random.split(key)
    a = jax.ShapeDtypeStruct((4, 1, 28, 28), jnp.float32)
    v = jnp.array([1.2, 2.3])
    b = jax.ShapeDtypeStruct((1, 32, 1, 1), jnp.float32)  # rand(32).unsqueeze(1).unsqueeze(2).unsqueeze(0)
    res = shapes(lambda a, b: {
        "view(4, 28*28)": a.reshape(4, 28 * 28), "view(4*28, 28)": a.reshape(4 * 28, 28),
        "view(4*1, 28, 28)": a.reshape(4, 28, 28),
        "unsqueeze(0)": jnp.expand_dims(a, 0), "unsqueeze(-1)": jnp.expand_dims(a, -1),
        "unsqueeze(-4)": jnp.expand_dims(a, -4), "unsqueeze(-5)": jnp.expand_dims(a, -5),
        "bias b.shape": b, "b.squeeze()": jnp.squeeze(b),
        "b.squeeze(0)": jnp.squeeze(b, 0), "b.squeeze(-1)": jnp.squeeze(b, -1),
        "b.expand(4, 32, 14, 14)": jnp.broadcast_to(b, (4, 32, 14, 14)),
        "b.repeat(4, 32, 1, 1)": jnp.tile(b, (4, 32, 1, 1)),
        "b.repeat(4, 1, 32, 32)": jnp.tile(b, (4, 1, 32, 32))}, a, b)
    zeros = jnp.zeros((4, 1, 28, 28))
    res.update({"view(783) of 784 elements": _fails(lambda: zeros[0].reshape(783)),
                "unsqueeze(5)": _fails(lambda: jnp.expand_dims(zeros, 5)),
                "b.squeeze(1) (size 32)": _fails(lambda: jnp.squeeze(jnp.zeros((1, 32, 1, 1)), 1)),
                "[1.2, 2.3].unsqueeze(-1)": jnp.expand_dims(v, -1).tolist(),
                "[1.2, 2.3].unsqueeze(0)": jnp.expand_dims(v, 0).tolist()})
    seed = {"view(4, 28*28)": [4, 784], "view(4*28, 28)": [112, 28], "view(4*1, 28, 28)": [4, 28, 28],
            "view(783) of 784 elements": "error", "unsqueeze(0)": [1, 4, 1, 28, 28],
            "unsqueeze(-1)": [4, 1, 28, 28, 1], "unsqueeze(-4)": [4, 1, 1, 28, 28],
            "unsqueeze(-5)": [1, 4, 1, 28, 28], "unsqueeze(5)": "error",
            "[1.2, 2.3].unsqueeze(-1)": r4([[1.2], [2.3]]), "[1.2, 2.3].unsqueeze(0)": r4([[1.2, 2.3]]),
            "bias b.shape": [1, 32, 1, 1], "b.squeeze()": [32], "b.squeeze(0)": [32, 1, 1],
            "b.squeeze(-1)": [1, 32, 1], "b.expand(4, 32, 14, 14)": [4, 32, 14, 14],
            "b.repeat(4, 32, 1, 1)": [4, 1024, 1, 1], "b.repeat(4, 1, 32, 32)": [4, 32, 32, 32]}
    # torch's squeeze(1) on a size-32 axis silently does nothing; jnp.squeeze refuses it.
    res["[1.2, 2.3].unsqueeze(-1)"] = r4(res["[1.2, 2.3].unsqueeze(-1)"])
    res["[1.2, 2.3].unsqueeze(0)"] = r4(res["[1.2, 2.3].unsqueeze(0)"])
    m = jnp.array([[0.5629, -0.5085, -0.3371, 1.2387], [0.2142, -1.7846, 0.2297, 1.7797],
                   [-0.3197, 0.6116, 0.3791, 0.9218]])
    res["a.t() (seed's 3x4)"] = r4(m.T)
    seed["a.t() (seed's 3x4)"] = [[0.5629, 0.2142, -0.3197], [-0.5085, -1.7846, 0.6116],
                                  [-0.3371, 0.2297, 0.3791], [1.2387, 1.7797, 0.9218]]
    # transpose(1, 3) then reshape back without undoing it scrambles the pixels (seed In[10-15]).
    x = jax.random.normal(k1, (4, 3, 32, 32))
    t = jnp.swapaxes(x, 1, 3)                                # [b w h c]
    a1 = t.reshape(4, 3 * 32 * 32).reshape(4, 3, 32, 32)     # wrong: read as [b c h w]
    a2 = jnp.swapaxes(t.reshape(4, 3 * 32 * 32).reshape(4, 32, 32, 3), 1, 3)  # fixed
    res["all(eq(a, a1)) (corrupted), all(eq(a, a2)) (fixed)"] = [int(jnp.all(x == a1)),
                                                                 int(jnp.all(x == a2))]
    seed["all(eq(a, a1)) (corrupted), all(eq(a, a2)) (fixed)"] = [0, 1]
    res["all([1,1,1,1]), all([1,1,1,0])"] = [int(jnp.all(jnp.array([1, 1, 1, 1]))),
                                              int(jnp.all(jnp.array([1, 1, 1, 0])))]
    seed["all([1,1,1,1]), all([1,1,1,0])"] = [1, 0]
    res.update(shapes(lambda c: {
        "b.transpose(1,3)": jnp.swapaxes(c, 1, 3),
        "b.transpose(1,3).transpose(1,2)": jnp.swapaxes(jnp.swapaxes(c, 1, 3), 1, 2),
        "b.permute(0,2,3,1)": jnp.transpose(c, (0, 2, 3, 1))},
        jax.ShapeDtypeStruct((4, 3, 28, 32), jnp.float32)))
    seed.update({"b.transpose(1,3)": [4, 32, 28, 3], "b.transpose(1,3).transpose(1,2)": [4, 28, 32, 3],
                 "b.permute(0,2,3,1)": [4, 28, 32, 3]})
    return res, seed


def broadcasting(key):
    k1, k2 = jax.random.split(key)
    feat, bias = jnp.zeros((4, 32, 14, 14)), jnp.arange(32.0)[:, None, None]
    res = {"[4,32,14,14] + [32,1,1]": shape(jax.eval_shape(jnp.add, feat, bias)),
           "[4,32,14,14] + [32,14]": _fails(lambda: feat + jnp.zeros((32, 14))),
           "[4,32,8] + [5.0]": shape(jax.eval_shape(lambda: jnp.zeros((4, 32, 8)) + jnp.array([5.0]))),
           "[4,32,8] + [8] (English +5)": jnp.zeros((4, 32, 8)) + jnp.array([0, 0, 5.0, 0, 0, 0, 0, 0]),
           "[4,32,8] + [4] (4 of 8 courses)": _fails(lambda: jnp.zeros((4, 32, 8)) + jnp.zeros(4)),
           "[4,3,32,32] + [32,32] / [3,1,1] / [1,1,1,1]": [
               shape(jax.eval_shape(jnp.add, jax.ShapeDtypeStruct((4, 3, 32, 32), jnp.float32),
                                    jax.ShapeDtypeStruct(s, jnp.float32)))
               for s in ((32, 32), (3, 1, 1), (1, 1, 1, 1))],
           "[4,3,32,32] + [2,3,32,32]": _fails(lambda: jnp.zeros((4, 3, 32, 32)) + jnp.zeros((2, 3, 32, 32)))}
    res["[4,32,8] + [8] (English +5)"] = r4(res["[4,32,8] + [8] (English +5)"][1, 2])
    a, c = jax.random.normal(k1, (2, 2, 4)), jax.random.normal(k2, (2, 4))
    res["seed 002: (a + 20 + c) - a - c == 20"] = bool(jnp.allclose(a + 20 + c - a - c, 20.0, atol=1e-5))
    res["seed 002: (2,2,4) * (2,4), (2,2,4) @ (4,2)"] = [shape(a * c), shape(a @ c.T)]
    seed = {"[4,32,14,14] + [32,1,1]": [4, 32, 14, 14], "[4,32,14,14] + [32,14]": "error",
            "[4,32,8] + [5.0]": [4, 32, 8], "[4,32,8] + [8] (English +5)": [0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "[4,32,8] + [4] (4 of 8 courses)": "error",
            "[4,3,32,32] + [32,32] / [3,1,1] / [1,1,1,1]": [[4, 3, 32, 32]] * 3,
            "[4,3,32,32] + [2,3,32,32]": "error", "seed 002: (a + 20 + c) - a - c == 20": True,
            "seed 002: (2,2,4) * (2,4), (2,2,4) @ (4,2)": [[2, 2, 4], [2, 2, 2]]}
    # torch.full([8], 1) is int64 and .norm() refuses it; jnp.full(8, 1) is int32, refused too.
    res["norm(full(8, 1)) (integer)"] = _fails(lambda: tensor.norm(jnp.full(8, 1)))
    seed["norm(full(8, 1)) (integer)"] = "error"
    return res, seed
