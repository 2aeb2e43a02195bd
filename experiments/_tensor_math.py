"""tensor_basics, part 2 (seed 001 §27-33): concatenate/stack/split/chunk, arithmetic,
matmul (batched, broadcast), pow/sqrt/rsqrt/exp/log, rounding, clip and gradient clipping by
norm, norms, reductions with keepdims, argmax/argmin, max with an axis, top-k, k-th value,
comparisons, where, gather (``take_along_axis``). Like part 1: each family's examples
(``*_examples``, computed in the chapter's one program) and its report of them, which
returns ``(result, seed)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments._tensor_create import _fails, r4, shape, shapes, tolist
from jaxbasics import optim, tensor
from jaxbasics._once import jit_once

# The seed's printed 4 x 10 matrix of predictions (001 §32, In[33]). A NumPy constant: the
# programs that use it embed it (jnp.array from a list would compile a conversion at import).
SEED_A = np.array([
    [0.0234, 0.6830, -0.1518, 0.4595, -1.5634, 0.5534, 0.9934, -1.1536, 0.3124, -1.4103],
    [0.6339, 1.5724, 0.2552, 1.0917, -1.4003, 0.5165, 0.8891, -2.0315, 0.4666, 1.4355],
    [1.6149, 0.2364, 0.3789, -0.3974, -0.1433, 0.9235, 0.6730, 0.3575, 2.0742, 0.8954],
    [-0.1019, 1.6405, -1.3493, 0.5554, -0.0533, 0.0450, 0.2018, -0.1688, -1.2579, -0.7906]],
    np.float32)


def chunk(x, chunks: int, axis: int = 0) -> list:
    """``torch.chunk``: pieces of ceil(n / chunks) along ``axis``, so possibly fewer than
    ``chunks`` (6 into 4 -> 2, 2, 2); ``jnp.array_split`` always gives ``chunks`` pieces."""
    size = -(-x.shape[axis] // chunks)
    return jnp.split(x, list(range(size, x.shape[axis], size)), axis=axis)


def combine_and_split(out=None):
    """Shapes only (nothing computed: ``out`` is not used)."""
    def pieces(key):
        s = jax.random.uniform(key, (6, 32, 8))   # stack of six [32, 8] score tables
        return {"cat([4,32,8],[5,32,8], 0)": jnp.concatenate([s[:4], jnp.zeros((5, 32, 8))], 0),
                "cat([4,3,32,32],[4,1,32,32], 1)": jnp.concatenate(
                    [jnp.zeros((4, 3, 32, 32)), jnp.zeros((4, 1, 32, 32))], 1),
                "cat([4,3,16,32] x 2, 3)": jnp.concatenate([jnp.zeros((4, 3, 16, 32))] * 2, 3),
                "stack([4,3,16,32] x 2, 2)": jnp.stack([jnp.zeros((4, 3, 16, 32))] * 2, 2),
                "s.split(3)": jnp.split(s, [3]), "s.split([3,2,1])": jnp.split(s, [3, 5]),
                "s.chunk(2)": chunk(s, 2), "s.chunk(4) (torch rule)": chunk(s, 4),
                "array_split(s, 4) (numpy rule)": jnp.array_split(s, 4)}

    key = jax.eval_shape(jax.random.key, 0)        # an abstract key
    out = jax.eval_shape(pieces, key)              # only shapes: traced, nothing compiled
    res = {name: shape(out[name]) for name in ("cat([4,3,16,32] x 2, 3)", "cat([4,3,32,32],[4,1,32,32], 1)",
                                               "cat([4,32,8],[5,32,8], 0)", "stack([4,3,16,32] x 2, 2)")}
    res.update({
        "cat([4,3,32,32],[4,3,16,32], 0)": _fails(lambda: jnp.concatenate(
            [jnp.zeros((4, 3, 32, 32)), jnp.zeros((4, 3, 16, 32))], 0)),
        "stack([32,8],[30,8])": _fails(lambda: jnp.stack([jnp.zeros((32, 8)), jnp.zeros((30, 8))])),
        "s.split(3)": [shape(p) for p in out["s.split(3)"]],
        "s.split([3,2,1])": [shape(p) for p in out["s.split([3,2,1])"]],
        "s.chunk(2)": [shape(p) for p in out["s.chunk(2)"]],
        "s.chunk(4) (torch rule)": [shape(p)[0] for p in out["s.chunk(4) (torch rule)"]],
        "array_split(s, 4) (numpy rule)": [shape(p)[0] for p in out["array_split(s, 4) (numpy rule)"]],
    })
    seed = {"cat([4,32,8],[5,32,8], 0)": [9, 32, 8], "cat([4,3,32,32],[4,1,32,32], 1)": [4, 4, 32, 32],
            "cat([4,3,16,32] x 2, 3)": [4, 3, 16, 64], "cat([4,3,32,32],[4,3,16,32], 0)": "error",
            "stack([4,3,16,32] x 2, 2)": [4, 3, 2, 16, 32], "stack([32,8],[30,8])": "error",
            "s.split(3)": [[3, 32, 8], [3, 32, 8]], "s.split([3,2,1])": [[3, 32, 8], [2, 32, 8], [1, 32, 8]],
            "s.chunk(2)": [[3, 32, 8], [3, 32, 8]], "s.chunk(4) (torch rule)": [2, 2, 2]}
    return res, seed


@jit_once
def arithmetic_examples(key) -> dict:
    """Arithmetic, matmul, pow/exp/log and rounding (seed 001 §27-29) as one program."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    a, b = jax.random.uniform(k1, (3, 4)), jax.random.uniform(k2, (4,))
    x, y = jax.random.normal(k3, (5, 2, 3)), jax.random.normal(k4, (5, 3, 4))
    full3 = jnp.full((2, 2), 3.0)
    e = jnp.exp(jnp.ones((2, 2)))
    nine = jnp.array(9.0)
    # Rounding: floor/ceil/trunc/frac of 3.14; round is half to even in JAX and today's torch.
    v = jnp.array(3.14)
    halves = jnp.array([0.5, 1.5, 2.5, 3.4999, 3.5, -2.5])
    return {"a + b == add(a, b) (b broadcast [4] -> [3,4])": jnp.all(a + b == jnp.add(a, b)),
            "7 // 2, -7 // 2": jnp.stack([jnp.floor_divide(7, 2), jnp.floor_divide(-7, 2)]),
            "batched matmul == per-matrix loop": jnp.allclose(
                x @ y, jnp.stack([x[i] @ y[i] for i in range(5)]), atol=1e-6),
            "full(3).pow(2), **2": [jnp.power(full3, 2), full3 ** 2],
            "sqrt(9), rsqrt(9), 9**0.5": jnp.stack([jnp.sqrt(nine), jax.lax.rsqrt(nine), nine ** 0.5]),
            "exp(1), log(e)": jnp.stack([jnp.exp(1.0), jnp.log(e)[0, 0]]),
            "log2(e)": jnp.log2(e), "log10(e)": jnp.log10(e),
            "floor, ceil, trunc, frac (3.14)": jnp.stack([jnp.floor(v), jnp.ceil(v), jnp.trunc(v),
                                                          v - jnp.trunc(v)]),
            "round (half to even)": jnp.round(halves),
            "floor(x + 0.5) (the seed's 四舍五入)": jnp.floor(halves + 0.5)}


def arithmetic(out):
    res = {"a + b == add(a, b) (b broadcast [4] -> [3,4])":
               bool(out["a + b == add(a, b) (b broadcast [4] -> [3,4])"]),
           "7 // 2, -7 // 2": tolist(out["7 // 2, -7 // 2"])}
    res.update(shapes(lambda: {
        "[4,784] @ w.T, w [512,784]": jnp.zeros((4, 784)) @ jnp.zeros((512, 784)).T,
        "[4,3,28,64] @ [4,3,64,32]": jnp.zeros((4, 3, 28, 64)) @ jnp.zeros((4, 3, 64, 32)),
        "[4,3,28,64] @ [4,1,64,32]": jnp.matmul(jnp.zeros((4, 3, 28, 64)), jnp.zeros((4, 1, 64, 32)))}))
    res["[4,3,28,64] @ [4,64,32]"] = _fails(lambda: jnp.zeros((4, 3, 28, 64)) @ jnp.zeros((4, 64, 32)))
    res["batched matmul == per-matrix loop"] = bool(out["batched matmul == per-matrix loop"])
    res.update({name: r4(out[name]) for name in ("full(3).pow(2), **2", "sqrt(9), rsqrt(9), 9**0.5",
                                                 "exp(1), log(e)", "log2(e)", "log10(e)")})
    seed = {"a + b == add(a, b) (b broadcast [4] -> [3,4])": True, "7 // 2, -7 // 2": [3, -4],
            "[4,784] @ w.T, w [512,784]": [4, 512], "[4,3,28,64] @ [4,3,64,32]": [4, 3, 28, 32],
            "[4,3,28,64] @ [4,1,64,32]": [4, 3, 28, 32], "[4,3,28,64] @ [4,64,32]": "error",
            "batched matmul == per-matrix loop": True,
            "full(3).pow(2), **2": [[[9.0, 9.0], [9.0, 9.0]]] * 2,
            "sqrt(9), rsqrt(9), 9**0.5": [3.0, 0.3333, 3.0], "exp(1), log(e)": [2.7183, 1.0],
            "log2(e)": [[1.4427, 1.4427], [1.4427, 1.4427]], "log10(e)": [[0.4343, 0.4343], [0.4343, 0.4343]]}
    res["floor, ceil, trunc, frac (3.14)"] = r4(out["floor, ceil, trunc, frac (3.14)"])
    seed["floor, ceil, trunc, frac (3.14)"] = [3.0, 4.0, 3.0, 0.14]
    res["round (half to even)"] = tolist(out["round (half to even)"])
    res["floor(x + 0.5) (the seed's 四舍五入)"] = tolist(out["floor(x + 0.5) (the seed's 四舍五入)"])
    seed["round (half to even)"] = [0.0, 2.0, 2.0, 3.0, 4.0, -2.0]
    seed["floor(x + 0.5) (the seed's 四舍五入)"] = [1.0, 2.0, 3.0, 3.0, 4.0, -2.0]
    return res, seed


def global_norm(tree):
    """The 2-norm of all leaves together (what clip_grad_norm_ measures)."""
    return jnp.sqrt(sum(tensor.norm(v) ** 2 for v in jax.tree.leaves(tree)))


@jit_once
def clipping_examples(key) -> dict:
    """clamp, gradient clipping by norm and norms (seed 001 §30-31) as one program."""
    grad = jax.random.uniform(key, (2, 3)) * 15
    # Gradient clipping by norm (torch.nn.utils.clip_grad_norm_): a gradient of norm 100 -> 10.
    g = {"w": jnp.full((4,), 50.0), "b": jnp.zeros(3)}
    clip = optim.clip_grad_norm(10.0)
    clipped, _ = clip.update(g, clip.init(g))
    a = jnp.full(8, 1.0)  # the seed's torch.full([8], 1) printed floats: the JAX code asks for 1.0
    b, c = a.reshape(2, 4), a.reshape(2, 2, 2)
    return {"clamp(10) max, clamp(0, 10) range": jnp.stack([jnp.clip(grad, 10).min() >= 10,
                                                            jnp.clip(grad, 0, 10).max() <= 10]),
            "d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)": jax.vmap(jax.grad(
                lambda x: tensor.clamp(x, 0.0, 1.0)))(jnp.array([0.0, 0.5, 1.0, 2.0])),
            "grad norm before, after clip_grad_norm(10)": jnp.stack([global_norm(g), global_norm(clipped)]),
            "a/b/c.norm(1)": jnp.stack([tensor.norm(t, 1) for t in (a, b, c)]),
            "a/b/c.norm(2)": jnp.stack([tensor.norm(t, 2) for t in (a, b, c)]),
            "b.norm(1, dim=1)": tensor.norm(b, 1, axis=1), "b.norm(1, dim=0)": tensor.norm(b, 1, axis=0),
            "b.norm(2, dim=1)": tensor.norm(b, 2, axis=1), "c.norm(1, dim=0)": tensor.norm(c, 1, axis=0),
            "c.norm(2, dim=0)": tensor.norm(c, 2, axis=0),
            "d norm(x)/dx at x = 0 (torch: 0, jnp.linalg.norm: nan)": jax.grad(tensor.norm)(jnp.zeros(2))}


def clipping_and_norms(out):
    res = {"clamp(10) max, clamp(0, 10) range": tolist(out["clamp(10) max, clamp(0, 10) range"]),
           "d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)":
               tolist(out["d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)"])}
    seed = {"clamp(10) max, clamp(0, 10) range": [True, True],
            "d clamp(x, 0, 1)/dx at 0, 0.5, 1, 2 (torch's)": [1.0, 1.0, 1.0, 0.0]}
    res["grad norm before, after clip_grad_norm(10)"] = r4(out["grad norm before, after clip_grad_norm(10)"])
    seed["grad norm before, after clip_grad_norm(10)"] = [100.0, 10.0]
    res.update({name: r4(out[name]) for name in (
        "a/b/c.norm(1)", "a/b/c.norm(2)", "b.norm(1, dim=1)", "b.norm(1, dim=0)", "b.norm(2, dim=1)",
        "c.norm(1, dim=0)", "c.norm(2, dim=0)")})
    name = "d norm(x)/dx at x = 0 (torch: 0, jnp.linalg.norm: nan)"
    res[name] = tolist(out[name])
    seed.update({"a/b/c.norm(1)": [8.0] * 3, "a/b/c.norm(2)": [2.8284] * 3, "b.norm(1, dim=1)": [4.0, 4.0],
                 "b.norm(1, dim=0)": [2.0] * 4, "b.norm(2, dim=1)": [2.0, 2.0],
                 "c.norm(1, dim=0)": [[2.0, 2.0], [2.0, 2.0]], "c.norm(2, dim=0)": [[1.4142, 1.4142], [1.4142, 1.4142]],
                 "d norm(x)/dx at x = 0 (torch: 0, jnp.linalg.norm: nan)": [0.0, 0.0]})
    return res, seed


@jit_once
def statistics_examples(key=None) -> dict:
    """Reductions, argmax/argmin, max with an axis, top-k, k-th value (seed 001 §32) as one
    program (no draws: ``key`` is not used)."""
    a = jnp.arange(8.0).reshape(2, 4)
    values, idx = tensor.max_dim(a, 1)
    top, top_i = jax.lax.top_k(SEED_A, 3)
    low, low_i = jax.lax.top_k(-SEED_A, 3)                  # largest=False
    order = jnp.argsort(SEED_A, axis=1, stable=True)        # kthvalue: the k-th smallest
    kth = lambda k: [jnp.take_along_axis(SEED_A, order[:, k - 1:k], 1)[:, 0],  # noqa: E731
                     order[:, k - 1]]
    p = jnp.array([0.2, 0.3, 0.1, 0.2, 0.1, 0.1])
    return {"min, max, mean, prod, sum": jnp.stack([f(a) for f in (jnp.min, jnp.max, jnp.mean,
                                                                    jnp.prod, jnp.sum)]),
            "argmax(), argmin() (flattened)": jnp.stack([jnp.argmax(a), jnp.argmin(a)]),
            "argmax(dim=1)": jnp.argmax(a, 1), "max(dim=1) values, indices": [values, idx],
            "max(dim=1, keepdim=True)": jnp.max(a, 1, keepdims=True),
            "prod(dim=1, keepdim=True)": jnp.prod(a + 1, 1, keepdims=True),
            "predictions argmax(dim=1)": jnp.argmax(SEED_A, 1),
            "topk(3, dim=1) values": top, "topk(3, dim=1) indices": top_i,
            "topk(3, largest=False) values": -low, "topk(3, largest=False) indices[:2]": low_i[:2],
            "kthvalue(8, dim=1)": kth(8), "kthvalue(3)": kth(3),
            "topk(3) of [0.2, 0.3, 0.1, 0.2, 0.1, 0.1]": list(jax.lax.top_k(p, 3))}


def statistics(out):
    res = {"min, max, mean, prod, sum": tolist(out["min, max, mean, prod, sum"]),
           "argmax(), argmin() (flattened)": tolist(out["argmax(), argmin() (flattened)"]),
           "argmax(dim=1)": tolist(out["argmax(dim=1)"]),
           "max(dim=1) values, indices": [tolist(v) for v in out["max(dim=1) values, indices"]],
           "max(dim=1, keepdim=True) shape": shape(out["max(dim=1, keepdim=True)"]),
           "prod(dim=1, keepdim=True)": tolist(out["prod(dim=1, keepdim=True)"]),
           "predictions argmax(dim=1)": tolist(out["predictions argmax(dim=1)"])}
    seed = {"min, max, mean, prod, sum": [0.0, 7.0, 3.5, 0.0, 28.0], "argmax(), argmin() (flattened)": [7, 0],
            "argmax(dim=1)": [3, 3], "max(dim=1) values, indices": [[3.0, 7.0], [3, 3]],
            "max(dim=1, keepdim=True) shape": [2, 1], "prod(dim=1, keepdim=True)": [[24.0], [1680.0]],
            "predictions argmax(dim=1)": [6, 1, 8, 1]}
    values_and_indices = lambda pair: [r4(pair[0]), tolist(pair[1])]  # noqa: E731
    res.update({"topk(3, dim=1) values": r4(out["topk(3, dim=1) values"]),
                "topk(3, dim=1) indices": tolist(out["topk(3, dim=1) indices"]),
                "topk(3, largest=False) values": r4(out["topk(3, largest=False) values"]),
                "topk(3, largest=False) indices[:2]": tolist(out["topk(3, largest=False) indices[:2]"]),
                "kthvalue(8, dim=1)": values_and_indices(out["kthvalue(8, dim=1)"]),
                "kthvalue(3)": values_and_indices(out["kthvalue(3)"]),
                "topk(3) of [0.2, 0.3, 0.1, 0.2, 0.1, 0.1]":
                    values_and_indices(out["topk(3) of [0.2, 0.3, 0.1, 0.2, 0.1, 0.1]"])})
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


@jit_once
def select_examples(key) -> dict:
    """Comparisons, where and gather (seed 001 §33) as one program."""
    a = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    cond = jax.random.uniform(key, (2, 2)) > 0.5
    w = jnp.where(cond, jnp.zeros((2, 2)), jnp.ones((2, 2)))
    labels = jnp.arange(100, 110)                           # the seed's label lookup table
    return {"a > 2, a >= 2, a == 2, a != 2": jnp.stack([a > 2, a >= 2, a == 2, a != 2]),
            "eq(a, a).all(), array_equal(a, a + 1)": jnp.stack([jnp.all(a == a),
                                                                 jnp.array_equal(a, a + 1)]),
            "where(cond, 0, 1) == 1 - cond": jnp.all(w == 1 - cond),
            "gather(a, 1, [[0,0],[1,0]])": jnp.take_along_axis(a, jnp.array([[0, 0], [1, 0]]), 1),
            "gather(a, 0, [[0,0],[1,0]])": jnp.take_along_axis(a, jnp.array([[0, 0], [1, 0]]), 0),
            "gather(labels, top-3 indices)": jnp.take(labels, jax.lax.top_k(SEED_A, 3)[1])}


def select(out):
    res = {"a > 2, a >= 2, a == 2, a != 2": tolist(out["a > 2, a >= 2, a == 2, a != 2"]),
           "eq(a, a).all(), array_equal(a, a + 1)": tolist(out["eq(a, a).all(), array_equal(a, a + 1)"]),
           "where(cond, 0, 1) == 1 - cond": bool(out["where(cond, 0, 1) == 1 - cond"]),
           "gather(a, 1, [[0,0],[1,0]])": tolist(out["gather(a, 1, [[0,0],[1,0]])"]),
           "gather(a, 0, [[0,0],[1,0]])": tolist(out["gather(a, 0, [[0,0],[1,0]])"]),
           "gather(labels, top-3 indices)": tolist(out["gather(labels, top-3 indices)"])}
    seed = {"a > 2, a >= 2, a == 2, a != 2": [[[False, False], [True, True]], [[False, True], [True, True]],
                                              [[False, True], [False, False]], [[True, False], [True, True]]],
            "eq(a, a).all(), array_equal(a, a + 1)": [True, False], "where(cond, 0, 1) == 1 - cond": True,
            "gather(a, 1, [[0,0],[1,0]])": [[1.0, 1.0], [4.0, 3.0]],
            "gather(a, 0, [[0,0],[1,0]])": [[1.0, 2.0], [3.0, 2.0]],
            "gather(labels, top-3 indices)": [[106, 101, 105], [101, 109, 103], [108, 100, 105], [101, 103, 106]]}
    return res, seed
