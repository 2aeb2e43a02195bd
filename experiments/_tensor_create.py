"""tensor_basics, part 1 (seed 001 §14-26): dtypes, creation, random, indexing and slicing,
reshaping, transposing (the transpose-then-reshape corruption and its fix), broadcasting.

Each family is a function of arrays and a report. The function (``*_examples``) computes
every example of the family from the family's key, in the seed's order and under the seed's
names, and returns them as a dict of arrays; ``tensor_basics`` computes all families in
one compiled program (``jit_once``'s quick pipeline: it runs once) and fetches the result
once. The report turns the family's NumPy arrays (``out``) into the printed Python values.
Running the examples op by op would compile one small program per primitive instead
(hundreds for the chapter); even ``jnp.asarray([1, 2])`` on a concrete list compiles a
conversion, so it is in the program too. Each ``*_examples`` is also a ``jit_once``
program of its own when called alone.

Each report returns ``(result, seed)``: what the JAX code computes, and the seed's
printed output for the same example (only where the seed prints one). Examples that only
show a shape, or that the shape rules reject, are traced with ``jax.eval_shape``: no data,
no compilation, the same rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics import tensor
from jaxbasics._once import jit_once


def r4(x):
    """x (NumPy values, or lists of them) as nested lists rounded to the seed's 4 printed
    decimals."""
    return np.round(np.asarray(x, np.float64), 4).tolist()


def tolist(x):
    """A fetched array (or list of them) as plain Python numbers, bools and lists."""
    return np.asarray(x).tolist()


def shape(x) -> list[int]:
    """The shape of an array or of a traced ``jax.ShapeDtypeStruct``, as a list."""
    return list(x.shape)


def shapes(f, *args) -> dict[str, list[int]]:
    """{name: shape} of the dict of arrays ``f(*args)`` returns, by tracing only."""
    return {k: shape(v) for k, v in jax.eval_shape(f, *args).items()}


def _fails(f) -> str:
    """'error' if tracing ``f()`` raises a shape/type error (as PyTorch would), else 'ok'."""
    try:
        jax.eval_shape(f)
    except (TypeError, ValueError, IndexError):
        return "error"
    return "ok"


@jit_once
def creation_examples(key) -> dict:
    """The creation and random examples (seed 001 §14-17) as one program."""
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    u = jax.random.uniform(k1, (3, 3))                      # torch.rand: [0, 1)
    n = jax.random.normal(k2, (10_000,))                    # torch.randn: N(0, 1)
    i = jax.random.randint(k3, (3, 3), 1, 10)               # torch.randint(1, 10, [3, 3])
    g = 1.0 + 0.5 * jax.random.normal(k4, (10_000,))        # torch.normal(mean=1, std=0.5)
    # One permutation shuffles two arrays consistently (names + maths, names + Chinese).
    maths, chinese = jnp.array([[0, 90], [1, 70], [2, 80]]), jnp.array([[0, 60], [1, 99], [2, 75]])
    idx = jax.random.permutation(k5, 3)                     # torch.randperm(3)
    return {"jnp.asarray(1.3)": jnp.asarray(1.3), "from list [1, 2]": jnp.asarray([1, 2]),
            "from numpy np.ones(2)": jnp.asarray(np.ones(2)),  # float64 numpy -> float32 (x64 off)
            "[1.3]": jnp.asarray([1.3]),
            "full([10], 0)": jnp.full(10, 0.0),
            "full([8], 1)": jnp.full(8, 1),                 # an integer array, as torch today
            "arange(1, 0, -0.1)": jnp.arange(1, 0, -0.1),
            "linspace(0, 10, steps=4)": jnp.linspace(0, 10, 4),
            "logspace(0, -1, steps=10)": jnp.logspace(0, -1, 10),
            "eye(3, 4)": jnp.eye(3, 4),
            "rand in [0,1), randint in [1,10)": (u >= 0).all() & (u < 1).all()
                                                & (i >= 1).all() & (i < 10).all(),
            "randn mean, std": jnp.stack([n.mean(), n.std()]),
            "normal(1, 0.5) mean, std": jnp.stack([g.mean(), g.std()]),
            "randperm shuffles both by one index: ids equal":
                (maths[idx][:, 0] == chinese[idx][:, 0]).all()}


def dtypes_and_creation(out):
    res, seed = {}, {}
    # dtype and ndim are the same in the program and in the NumPy arrays it returns.
    res["dtype: jnp.asarray(1.3) / from list [1, 2] / from numpy np.ones(2)"] = [
        str(out[name].dtype) for name in ("jnp.asarray(1.3)", "from list [1, 2]", "from numpy np.ones(2)")]
    res["ndim of 1.3 / [1.3]"] = [out["jnp.asarray(1.3)"].ndim, out["[1.3]"].ndim]
    seed["ndim of 1.3 / [1.3]"] = [0, 1]
    res["full([10], 0)"] = tolist(out["full([10], 0)"])
    seed["full([10], 0)"] = [0.0] * 10
    res["full([8], 1).dtype"] = str(out["full([8], 1)"].dtype)  # an integer, as torch today
    res["arange(1, 0, -0.1)"] = r4(out["arange(1, 0, -0.1)"])
    seed["arange(1, 0, -0.1)"] = r4(np.linspace(1, 0.1, 10))
    res["linspace(0, 10, steps=4)"] = r4(out["linspace(0, 10, steps=4)"])
    seed["linspace(0, 10, steps=4)"] = [0.0, 3.3333, 6.6667, 10.0]
    res["logspace(0, -1, steps=10)"] = r4(out["logspace(0, -1, steps=10)"])
    seed["logspace(0, -1, steps=10)"] = r4(10.0 ** np.linspace(0, -1, 10))
    res["eye(3, 4)"] = tolist(out["eye(3, 4)"])
    seed["eye(3, 4)"] = [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]
    res["rand in [0,1), randint in [1,10)"] = bool(out["rand in [0,1), randint in [1,10)"])
    seed["rand in [0,1), randint in [1,10)"] = True
    res["randn mean, std (2 decimals)"] = [round(float(v), 1) for v in out["randn mean, std"]]
    seed["randn mean, std (2 decimals)"] = [0.0, 1.0]
    res["normal(1, 0.5) mean, std"] = [round(float(v), 1) for v in out["normal(1, 0.5) mean, std"]]
    seed["normal(1, 0.5) mean, std"] = [1.0, 0.5]
    name = "randperm shuffles both by one index: ids equal"
    res[name], seed[name] = bool(out[name]), True
    return res, seed


@jit_once
def indexing_examples(key=None) -> dict:
    """The indexing examples with data (seed 001 §18-19) as one program (no draws: ``key``
    is not used)."""
    x = jnp.array([[0.1, 0.7, -1.0], [0.5, 2.0, 0.4]])
    mask = x >= 0.5                                         # x.ge(0.5)
    src = jnp.array([[4, 3, 5], [6, 7, 8]])
    y = jnp.zeros(3)
    return {
        # torch.masked_select(x, mask) is x[mask] in JAX, but its length depends on the data,
        # so it only runs eagerly (a program of its own). In a program, give a static size:
        # jnp.extract(mask, x, size=x.size) fills the tail, and the count says how much is real.
        "masked_select(x, x >= 0.5)": jnp.extract(mask, x, size=x.size), "count": mask.sum(),
        "(x >= 0.5) as 0/1": mask.astype(jnp.int32),
        "take(src, [0, 2, 5])": jnp.take(src, jnp.array([0, 2, 5])),
        # t[1] = 5 in PyTorch; JAX arrays are immutable: y.at[1].set(5) is a new array, y stays
        "x.at[1].set(5): old, new": [y, y.at[1].set(5.0)]}


def indexing(out):
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
    selected = out["masked_select(x, x >= 0.5)"][:int(out["count"])]  # the real ones
    res["masked_select(x, x >= 0.5)"] = r4(selected)
    seed["masked_select(x, x >= 0.5)"] = [0.7, 0.5, 2.0]
    res["(x >= 0.5) as 0/1"] = tolist(out["(x >= 0.5) as 0/1"])
    res["take(src, [0, 2, 5])"] = tolist(out["take(src, [0, 2, 5])"])
    seed["take(src, [0, 2, 5])"] = [4, 5, 8]
    res["x.at[1].set(5): old, new"] = [tolist(v) for v in out["x.at[1].set(5): old, new"]]
    seed["x.at[1].set(5): old, new"] = [[0.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    return res, seed


@jit_once
def reshaping_examples(key) -> dict:
    """The reshaping and transposing examples with data (seed 001 §20-23) as one program."""
    k1, _ = jax.random.split(key)
    v = jnp.array([1.2, 2.3])
    m = jnp.array([[0.5629, -0.5085, -0.3371, 1.2387], [0.2142, -1.7846, 0.2297, 1.7797],
                   [-0.3197, 0.6116, 0.3791, 0.9218]])
    # transpose(1, 3) then reshape back without undoing it scrambles the pixels (seed In[10-15]).
    x = jax.random.normal(k1, (4, 3, 32, 32))
    t = jnp.swapaxes(x, 1, 3)                                # [b w h c]
    a1 = t.reshape(4, 3 * 32 * 32).reshape(4, 3, 32, 32)     # wrong: read as [b c h w]
    a2 = jnp.swapaxes(t.reshape(4, 3 * 32 * 32).reshape(4, 32, 32, 3), 1, 3)  # fixed
    return {"[1.2, 2.3].unsqueeze(-1)": jnp.expand_dims(v, -1),
            "[1.2, 2.3].unsqueeze(0)": jnp.expand_dims(v, 0),
            "a.t() (seed's 3x4)": m.T,
            "all(eq(a, a1)) (corrupted), all(eq(a, a2)) (fixed)":
                jnp.stack([jnp.all(x == a1), jnp.all(x == a2)]).astype(jnp.int32),
            "all([1,1,1,1]), all([1,1,1,0])": jnp.stack([
                jnp.all(jnp.array([1, 1, 1, 1])), jnp.all(jnp.array([1, 1, 1, 0]))]).astype(jnp.int32)}


def reshaping(out):
    a = jax.ShapeDtypeStruct((4, 1, 28, 28), jnp.float32)
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
    res.update({"view(783) of 784 elements": _fails(lambda: jnp.zeros((4, 1, 28, 28))[0].reshape(783)),
                "unsqueeze(5)": _fails(lambda: jnp.expand_dims(jnp.zeros((4, 1, 28, 28)), 5)),
                "b.squeeze(1) (size 32)": _fails(lambda: jnp.squeeze(jnp.zeros((1, 32, 1, 1)), 1)),
                "[1.2, 2.3].unsqueeze(-1)": r4(out["[1.2, 2.3].unsqueeze(-1)"]),
                "[1.2, 2.3].unsqueeze(0)": r4(out["[1.2, 2.3].unsqueeze(0)"])})
    seed = {"view(4, 28*28)": [4, 784], "view(4*28, 28)": [112, 28], "view(4*1, 28, 28)": [4, 28, 28],
            "view(783) of 784 elements": "error", "unsqueeze(0)": [1, 4, 1, 28, 28],
            "unsqueeze(-1)": [4, 1, 28, 28, 1], "unsqueeze(-4)": [4, 1, 1, 28, 28],
            "unsqueeze(-5)": [1, 4, 1, 28, 28], "unsqueeze(5)": "error",
            "[1.2, 2.3].unsqueeze(-1)": r4([[1.2], [2.3]]), "[1.2, 2.3].unsqueeze(0)": r4([[1.2, 2.3]]),
            "bias b.shape": [1, 32, 1, 1], "b.squeeze()": [32], "b.squeeze(0)": [32, 1, 1],
            "b.squeeze(-1)": [1, 32, 1], "b.expand(4, 32, 14, 14)": [4, 32, 14, 14],
            "b.repeat(4, 32, 1, 1)": [4, 1024, 1, 1], "b.repeat(4, 1, 32, 32)": [4, 32, 32, 32]}
    # torch's squeeze(1) on a size-32 axis silently does nothing; jnp.squeeze refuses it.
    res["a.t() (seed's 3x4)"] = r4(out["a.t() (seed's 3x4)"])
    seed["a.t() (seed's 3x4)"] = [[0.5629, 0.2142, -0.3197], [-0.5085, -1.7846, 0.6116],
                                  [-0.3371, 0.2297, 0.3791], [1.2387, 1.7797, 0.9218]]
    name = "all(eq(a, a1)) (corrupted), all(eq(a, a2)) (fixed)"
    res[name], seed[name] = tolist(out[name]), [0, 1]
    name = "all([1,1,1,1]), all([1,1,1,0])"
    res[name], seed[name] = tolist(out[name]), [1, 0]
    res.update(shapes(lambda c: {
        "b.transpose(1,3)": jnp.swapaxes(c, 1, 3),
        "b.transpose(1,3).transpose(1,2)": jnp.swapaxes(jnp.swapaxes(c, 1, 3), 1, 2),
        "b.permute(0,2,3,1)": jnp.transpose(c, (0, 2, 3, 1))},
        jax.ShapeDtypeStruct((4, 3, 28, 32), jnp.float32)))
    seed.update({"b.transpose(1,3)": [4, 32, 28, 3], "b.transpose(1,3).transpose(1,2)": [4, 28, 32, 3],
                 "b.permute(0,2,3,1)": [4, 28, 32, 3]})
    return res, seed


@jit_once
def broadcasting_examples(key) -> dict:
    """The broadcasting examples with data (seed 001 §24-26, seed 002) as one program."""
    k1, k2 = jax.random.split(key)
    a, c = jax.random.normal(k1, (2, 2, 4)), jax.random.normal(k2, (2, 4))
    return {"[4,32,8] + [8] (English +5)":
                (jnp.zeros((4, 32, 8)) + jnp.array([0, 0, 5.0, 0, 0, 0, 0, 0]))[1, 2],
            "seed 002: (a + 20 + c) - a - c == 20": jnp.allclose(a + 20 + c - a - c, 20.0, atol=1e-5),
            "a * c": a * c, "a @ c.T": a @ c.T}


def broadcasting(out):
    feat = jax.ShapeDtypeStruct((4, 32, 14, 14), jnp.float32)
    bias = jax.ShapeDtypeStruct((32, 1, 1), jnp.float32)   # arange(32.)[:, None, None]
    res = {"[4,32,14,14] + [32,1,1]": shape(jax.eval_shape(jnp.add, feat, bias)),
           "[4,32,14,14] + [32,14]": _fails(lambda: jnp.zeros((4, 32, 14, 14)) + jnp.zeros((32, 14))),
           "[4,32,8] + [5.0]": shape(jax.eval_shape(lambda: jnp.zeros((4, 32, 8)) + jnp.array([5.0]))),
           "[4,32,8] + [8] (English +5)": r4(out["[4,32,8] + [8] (English +5)"]),
           "[4,32,8] + [4] (4 of 8 courses)": _fails(lambda: jnp.zeros((4, 32, 8)) + jnp.zeros(4)),
           "[4,3,32,32] + [32,32] / [3,1,1] / [1,1,1,1]": [
               shape(jax.eval_shape(jnp.add, jax.ShapeDtypeStruct((4, 3, 32, 32), jnp.float32),
                                    jax.ShapeDtypeStruct(s, jnp.float32)))
               for s in ((32, 32), (3, 1, 1), (1, 1, 1, 1))],
           "[4,3,32,32] + [2,3,32,32]": _fails(lambda: jnp.zeros((4, 3, 32, 32)) + jnp.zeros((2, 3, 32, 32)))}
    res["seed 002: (a + 20 + c) - a - c == 20"] = bool(out["seed 002: (a + 20 + c) - a - c == 20"])
    res["seed 002: (2,2,4) * (2,4), (2,2,4) @ (4,2)"] = [shape(out["a * c"]), shape(out["a @ c.T"])]
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
