"""tensor_basics, part 2 (seed 001 §27-33): concatenate/stack/split/chunk, arithmetic,
matmul (batched, broadcast), pow/sqrt/rsqrt/exp/log, rounding, clip and gradient clipping by
norm, norms, reductions with keepdims, argmax/argmin, max with an axis, top-k, k-th value,
comparisons, where, gather (``take_along_axis``). Returns ``(result, seed)`` like part 1."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from experiments._tensor_create import _fails, r4, shape, shapes
from jaxbasics import optim, tensor

# The seed's printed 4 x 10 matrix of predictions (001 §32, In[33]).
SEED_A = jnp.array([
    [0.0234, 0.6830, -0.1518, 0.4595, -1.5634, 0.5534, 0.9934, -1.1536, 0.3124, -1.4103],
    [0.6339, 1.5724, 0.2552, 1.0917, -1.4003, 0.5165, 0.8891, -2.0315, 0.4666, 1.4355],
    [1.6149, 0.2364, 0.3789, -0.3974, -0.1433, 0.9235, 0.6730, 0.3575, 2.0742, 0.8954],
    [-0.1019, 1.6405, -1.3493, 0.5554, -0.0533, 0.0450, 0.2018, -0.1688, -1.2579, -0.7906]])


def chunk(x, chunks: int, axis: int = 0) -> list:
    """``torch.chunk``: pieces of ceil(n / chunks) along ``axis``, so possibly fewer than
    ``chunks`` (6 into 4 -> 2, 2, 2); ``jnp.array_split`` always gives ``chunks`` pieces."""
    size = -(-x.shape[axis] // chunks)
    return jnp.split(x, list(range(size, x.shape[axis], size)), axis=axis)


def combine_and_split(key):
    s = jax.random.uniform(key, (6, 32, 8))   # stack of six [32, 8] score tables
    res = shapes(lambda: {
        "cat([4,32,8],[5,32,8], 0)": jnp.concatenate([s[:4], jnp.zeros((5, 32, 8))], 0),
        "cat([4,3,32,32],[4,1,32,32], 1)": jnp.concatenate(
            [jnp.zeros((4, 3, 32, 32)), jnp.zeros((4, 1, 32, 32))], 1),
        "cat([4,3,16,32] x 2, 3)": jnp.concatenate([jnp.zeros((4, 3, 16, 32))] * 2, 3),
        "stack([4,3,16,32] x 2, 2)": jnp.stack([jnp.zeros((4, 3, 16, 32))] * 2, 2)})
    res.update({
        "cat([4,3,32,32],[4,3,16,32], 0)": _fails(lambda: jnp.concatenate(
            [jnp.zeros((4, 3, 32, 32)), jnp.zeros((4, 3, 16, 32))], 0)),
        "stack([32,8],[30,8])": _fails(lambda: jnp.stack([jnp.zeros((32, 8)), jnp.zeros((30, 8))])),
        "s.split(3)": [shape(p) for p in jnp.split(s, [3])],
        "s.split([3,2,1])": [shape(p) for p in jnp.split(s, [3, 5])],
        "s.chunk(2)": [shape(p) for p in chunk(s, 2)],
        "s.chunk(4) (torch rule)": [shape(p)[0] for p in chunk(s, 4)],
        "array_split(s, 4) (numpy rule)": [shape(p)[0] for p in jnp.array_split(s, 4)],
    })
    seed = {"cat([4,32,8],[5,32,8], 0)": [9, 32, 8], "cat([4,3,32,32],[4,1,32,32], 1)": [4, 4, 32, 32],
            "cat([4,3,16,32] x 2, 3)": [4, 3, 16, 64], "cat([4,3,32,32],[4,3,16,32], 0)": "error",
            "stack([4,3,16,32] x 2, 2)": [4, 3, 2, 16, 32], "stack([32,8],[30,8])": "error",
            "s.split(3)": [[3, 32, 8], [3, 32, 8]], "s.split([3,2,1])": [[3, 32, 8], [2, 32, 8], [1, 32, 8]],
            "s.chunk(2)": [[3, 32, 8], [3, 32, 8]], "s.chunk(4) (torch rule)": [2, 2, 2]}
    return res, seed


def arithmetic(key):
    k1, k2, k3 = jax.random.split(key, 3)
    a, b = jax.random.uniform(k1, (3, 4)), jax.random.uniform(k2, (4,))
    res = {"a + b == add(a, b) (b broadcast [4] -> [3,4])": bool(jnp.all(a + b == jnp.add(a, b))),
           "7 // 2, -7 // 2": [int(jnp.floor_divide(7, 2)), int(jnp.floor_divide(-7, 2))]}
    res.update(shapes(lambda: {
        "[4,784] @ w.T, w [512,784]": jnp.zeros((4, 784)) @ jnp.zeros((512, 784)).T,
        "[4,3,28,64] @ [4,3,64,32]": jnp.zeros((4, 3, 28, 64)) @ jnp.zeros((4, 3, 64, 32)),
        "[4,3,28,64] @ [4,1,64,32]": jnp.matmul(jnp.zeros((4, 3, 28, 64)), jnp.zeros((4, 1, 64, 32)))}))
    res["[4,3,28,64] @ [4,64,32]"] = _fails(lambda: jnp.zeros((4, 3, 28, 64)) @ jnp.zeros((4, 64, 32)))
    x, y = jax.random.normal(k3, (5, 2, 3)), jax.random.normal(k1, (5, 3, 4))
    res["batched matmul == per-matrix loop"] = bool(jnp.allclose(
        x @ y, jnp.stack([x[i] @ y[i] for i in range(5)]), atol=1e-6))
    full3 = jnp.full((2, 2), 3.0)
    e = jnp.exp(jnp.ones((2, 2)))
    res.update({"full(3).pow(2), **2": [r4(jnp.power(full3, 2)), r4(full3 ** 2)],
                "sqrt(9), rsqrt(9), 9**0.5": r4([jnp.sqrt(9.0), jax.lax.rsqrt(9.0), 9.0 ** 0.5]),
                "exp(1), log(e)": r4([jnp.exp(1.0), jnp.log(e)[0, 0]]),
                "log2(e)": r4(jnp.log2(e)), "log10(e)": r4(jnp.log10(e))})
    seed = {"a + b == add(a, b) (b broadcast [4] -> [3,4])": True, "7 // 2, -7 // 2": [3, -4],
            "[4,784] @ w.T, w [512,784]": [4, 512], "[4,3,28,64] @ [4,3,64,32]": [4, 3, 28, 32],
            "[4,3,28,64] @ [4,1,64,32]": [4, 3, 28, 32], "[4,3,28,64] @ [4,64,32]": "error",
            "batched matmul == per-matrix loop": True,
            "full(3).pow(2), **2": [[[9.0, 9.0], [9.0, 9.0]]] * 2,
            "sqrt(9), rsqrt(9), 9**0.5": [3.0, 0.3333, 3.0], "exp(1), log(e)": [2.7183, 1.0],
            "log2(e)": [[1.4427, 1.4427], [1.4427, 1.4427]], "log10(e)": [[0.4343, 0.4343], [0.4343, 0.4343]]}
    # Rounding: floor/ceil/trunc/frac of 3.14; round is half to even in JAX and today's torch.
    v = jnp.array(3.14)
    res["floor, ceil, trunc, frac (3.14)"] = r4([jnp.floor(v), jnp.ceil(v), jnp.trunc(v), v - jnp.trunc(v)])
    seed["floor, ceil, trunc, frac (3.14)"] = [3.0, 4.0, 3.0, 0.14]
    halves = jnp.array([0.5, 1.5, 2.5, 3.4999, 3.5, -2.5])
    res["round (half to even)"] = jnp.round(halves).tolist()
    res["floor(x + 0.5) (the seed's 四舍五入)"] = jnp.floor(halves + 0.5).tolist()
    seed["round (half to even)"] = [0.0, 2.0, 2.0, 3.0, 4.0, -2.0]
    seed["floor(x + 0.5) (the seed's 四舍五入)"] = [1.0, 2.0, 3.0, 3.0, 4.0, -2.0]
    return res, seed


def clipping_and_norms(key):
    grad = jax.random.uniform(key, (2, 3)) * 15
    res = {"clamp(10) max, clamp(0, 10) range": [float(jnp.clip(grad, 10).min()) >= 10,
                                                 float(jnp.clip(grad, 0, 10).max()) <= 10],
           "d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)": jax.vmap(jax.grad(
               lambda x: tensor.clamp(x, 0.0, 1.0)))(jnp.array([0.0, 0.5, 1.0, 2.0])).tolist()}
    seed = {"clamp(10) max, clamp(0, 10) range": [True, True],
            "d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)": [1.0, 1.0, 1.0, 0.0]}
    # Gradient clipping by norm (torch.nn.utils.clip_grad_norm_): a gradient of norm 100 -> 10.
    g = {"w": jnp.full((4,), 50.0), "b": jnp.zeros(3)}
    clip = optim.clip_grad_norm(10.0)
    clipped, _ = clip.update(g, clip.init(g))
    res["grad norm before, after clip_grad_norm(10)"] = r4([
        math.sqrt(sum(float(tensor.norm(v)) ** 2 for v in jax.tree.leaves(x))) for x in (g, clipped)])
    seed["grad norm before, after clip_grad_norm(10)"] = [100.0, 10.0]
    a = jnp.full(8, 1.0)  # the seed's torch.full([8], 1) printed floats: the JAX code asks for 1.0
    b, c = a.reshape(2, 4), a.reshape(2, 2, 2)
    res.update({"a/b/c.norm(1)": r4([tensor.norm(t, 1) for t in (a, b, c)]),
                "a/b/c.norm(2)": r4([tensor.norm(t, 2) for t in (a, b, c)]),
                "b.norm(1, dim=1)": r4(tensor.norm(b, 1, axis=1)), "b.norm(1, dim=0)": r4(tensor.norm(b, 1, axis=0)),
                "b.norm(2, dim=1)": r4(tensor.norm(b, 2, axis=1)), "c.norm(1, dim=0)": r4(tensor.norm(c, 1, axis=0)),
                "c.norm(2, dim=0)": r4(tensor.norm(c, 2, axis=0)),
                "d norm(x)/dx at x = 0 (torch: 0, jnp.linalg.norm: nan)": jax.grad(tensor.norm)(jnp.zeros(2)).tolist()})
    seed.update({"a/b/c.norm(1)": [8.0] * 3, "a/b/c.norm(2)": [2.8284] * 3, "b.norm(1, dim=1)": [4.0, 4.0],
                 "b.norm(1, dim=0)": [2.0] * 4, "b.norm(2, dim=1)": [2.0, 2.0],
                 "c.norm(1, dim=0)": [[2.0, 2.0], [2.0, 2.0]], "c.norm(2, dim=0)": [[1.4142, 1.4142], [1.4142, 1.4142]],
                 "d norm(x)/dx at x = 0 (torch: 0, jnp.linalg.norm: nan)": [0.0, 0.0]})
    return res, seed


def statistics():
    a = jnp.arange(8.0).reshape(2, 4)
    values, idx = tensor.max_dim(a, 1)
    res = {"min, max, mean, prod, sum": [float(f(a)) for f in (jnp.min, jnp.max, jnp.mean, jnp.prod, jnp.sum)],
           "argmax(), argmin() (flattened)": [int(jnp.argmax(a)), int(jnp.argmin(a))],
           "argmax(dim=1)": jnp.argmax(a, 1).tolist(), "max(dim=1) values, indices": [values.tolist(), idx.tolist()],
           "max(dim=1, keepdim=True) shape": shape(jnp.max(a, 1, keepdims=True)),
           "prod(dim=1, keepdim=True)": jnp.prod(a + 1, 1, keepdims=True).tolist(),
           "predictions argmax(dim=1)": jnp.argmax(SEED_A, 1).tolist()}
    seed = {"min, max, mean, prod, sum": [0.0, 7.0, 3.5, 0.0, 28.0], "argmax(), argmin() (flattened)": [7, 0],
            "argmax(dim=1)": [3, 3], "max(dim=1) values, indices": [[3.0, 7.0], [3, 3]],
            "max(dim=1, keepdim=True) shape": [2, 1], "prod(dim=1, keepdim=True)": [[24.0], [1680.0]],
            "predictions argmax(dim=1)": [6, 1, 8, 1]}
    top, top_i = jax.lax.top_k(SEED_A, 3)
    low, low_i = jax.lax.top_k(-SEED_A, 3)                  # largest=False
    order = jnp.argsort(SEED_A, axis=1, stable=True)        # kthvalue: the k-th smallest
    kth = lambda k: [r4(jnp.take_along_axis(SEED_A, order[:, k - 1:k], 1)[:, 0]),  # noqa: E731
                     order[:, k - 1].tolist()]
    p = jnp.array([0.2, 0.3, 0.1, 0.2, 0.1, 0.1])
    res.update({"topk(3, dim=1) values": r4(top), "topk(3, dim=1) indices": top_i.tolist(),
                "topk(3, largest=False) values": r4(-low), "topk(3, largest=False) indices[:2]": low_i[:2].tolist(),
                "kthvalue(8, dim=1)": kth(8), "kthvalue(3)": kth(3),
                "topk(3) of [0.2, 0.3, 0.1, 0.2, 0.1, 0.1]": [r4(jax.lax.top_k(p, 3)[0]), jax.lax.top_k(p, 3)[1].tolist()]})
    seed.update({"topk(3, dim=1) values": [[0.9934, 0.6830, 0.5534], [1.5724, 1.4355, 1.0917],
                                           [2.0742, 1.6149, 0.9235], [1.6405, 0.5554, 0.2018]],
                 "topk(3, dim=1) indices": [[6, 1, 5], [1, 9, 3], [8, 0, 5], [1, 3, 6]],
                 "topk(3, largest=False) values": [[-1.5634, -1.4103, -1.1536], [-2.0315, -1.4003, 0.2552],
                                                   [-0.3974, -0.1433, 0.2364], [-1.3493, -1.2579, -0.7906]],
                 "topk(3, largest=False) indices[:2]": [[4, 9, 7], [7, 4, 2]],
                 "kthvalue(8, dim=1)": [[0.5534, 1.0917, 0.9235, 0.2018], [5, 3, 5, 6]],
                 "kthvalue(3)": [[-1.1536, 0.2552, 0.2364, -0.7906], [7, 2, 1, 9]],
                 "topk(3) of [0.2, 0.3, 0.1, 0.2, 0.1, 0.1]": [[0.3, 0.2, 0.2], [1, 0, 3]]})
    return res, seed


def select(key):
    a = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    cond = jax.random.uniform(key, (2, 2)) > 0.5
    w = jnp.where(cond, jnp.zeros((2, 2)), jnp.ones((2, 2)))
    res = {"a > 2, a >= 2, a == 2, a != 2": [(a > 2).tolist(), (a >= 2).tolist(), (a == 2).tolist(),
                                             (a != 2).tolist()],
           "eq(a, a).all(), array_equal(a, a + 1)": [bool(jnp.all(a == a)), bool(jnp.array_equal(a, a + 1))],
           "where(cond, 0, 1) == 1 - cond": bool(jnp.all(w == 1 - cond)),
           "gather(a, 1, [[0,0],[1,0]])": jnp.take_along_axis(a, jnp.array([[0, 0], [1, 0]]), 1).tolist(),
           "gather(a, 0, [[0,0],[1,0]])": jnp.take_along_axis(a, jnp.array([[0, 0], [1, 0]]), 0).tolist()}
    labels = jnp.arange(100, 110)                           # the seed's label lookup table
    res["gather(labels, top-3 indices)"] = jnp.take(labels, jax.lax.top_k(SEED_A, 3)[1]).tolist()
    seed = {"a > 2, a >= 2, a == 2, a != 2": [[[False, False], [True, True]], [[False, True], [True, True]],
                                              [[False, True], [False, False]], [[True, False], [True, True]]],
            "eq(a, a).all(), array_equal(a, a + 1)": [True, False], "where(cond, 0, 1) == 1 - cond": True,
            "gather(a, 1, [[0,0],[1,0]])": [[1.0, 1.0], [4.0, 3.0]],
            "gather(a, 0, [[0,0],[1,0]])": [[1.0, 2.0], [3.0, 2.0]],
            "gather(labels, top-3 indices)": [[106, 101, 105], [101, 109, 103], [108, 100, 105], [101, 103, 106]]}
    return res, seed
