"""Tensors as JAX arrays (seed 001 §14-20, seed 002 broadcasting): creation, dtypes, indexing,
reshaping, broadcasting, and the one real difference, immutability.

PyTorch → JAX: ``torch.tensor`` → ``jnp.asarray``; ``torch.rand`` → ``jax.random.uniform(key,
...)`` (explicit keys); ``view``/``reshape`` → ``reshape``; ``unsqueeze`` → ``expand_dims``;
``t[i] = v`` → ``t.at[i].set(v)`` (a new array); ``cat``/``stack`` → ``concatenate``/``stack``;
``expand`` → ``broadcast_to``. Broadcasting follows NumPy's rules, as PyTorch's do:
(4, 32, 14, 14) + (32, 1, 1) works, (4, 32, 14, 14) + (32, 14) fails.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli


def body(args) -> _cli.Outcome:
    key = jax.random.key(args.seed)
    a = jax.random.normal(key, (4, 3, 28, 28))
    result = {
        "default float dtype": str(jnp.asarray(1.0).dtype),
        "int dtype": str(jnp.asarray([1, 2]).dtype),
        "a.shape": list(a.shape), "a.size": int(a.size), "a.ndim": int(a.ndim),
        "a[0, 0].shape": list(a[0, 0].shape), "a[:2, :, ::2, ::2].shape": list(a[:2, :, ::2, ::2].shape),
        "a.reshape(4, 784*3).shape": list(a.reshape(4, -1).shape),
        "expand_dims(a, 0).shape": list(jnp.expand_dims(a, 0).shape),
        "a.transpose(0, 2, 3, 1).shape": list(jnp.transpose(a, (0, 2, 3, 1)).shape),
        "concatenate((4,3,28,28),(5,3,28,28)).shape": list(
            jnp.concatenate([a, jnp.zeros((5, 3, 28, 28))]).shape),
        "stack 2 x (3,4)": list(jnp.stack([jnp.ones((3, 4))] * 2).shape),
    }
    bias = jnp.arange(32.0).reshape(32, 1, 1)
    feat = jnp.zeros((4, 32, 14, 14))
    result["broadcast (4,32,14,14)+(32,1,1)"] = list((feat + bias).shape)
    try:
        feat + jnp.zeros((32, 14))
        result["broadcast (4,32,14,14)+(32,14)"] = "ok"
    except (TypeError, ValueError):
        result["broadcast (4,32,14,14)+(32,14)"] = "error"
    x = jnp.zeros(3)
    y = x.at[1].set(5.0)
    result["x after y = x.at[1].set(5)"] = np.asarray(x).tolist()
    result["y"] = np.asarray(y).tolist()
    mask = a[0, 0] > 0
    result["masked fraction > 0"] = round(float(jnp.mean(mask)), 3)
    reference = {"default float dtype": "float32", "a.size": 4 * 3 * 28 * 28,
                 "broadcast (4,32,14,14)+(32,1,1)": [4, 32, 14, 14],
                 "broadcast (4,32,14,14)+(32,14)": "error",
                 "x after y = x.at[1].set(5)": [0.0, 0.0, 0.0], "y": [0.0, 5.0, 0.0]}
    ok = all(result[k] == v for k, v in reference.items()) and 0.4 < result["masked fraction > 0"] < 0.6
    return _cli.Outcome(result, reference, bool(ok), data_source="none")


def main(argv=None) -> dict:
    return _cli.run("tensor_basics", __doc__, body, argv)


if __name__ == "__main__":
    main()
