"""The generated regression data of the course's regression examples (each drawn by one
compiled program)."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax import Array

from jaxbasics._checks import positive, prng_key
from jaxbasics._once import jit_once


def linear_data(key: Array, n: int = 256, w: float = 5.0, b: float = 7.0,
                noise: float = 0.25) -> tuple[Array, Array]:
    """Seed 000's data: x ~ U[0, 1), y = w·x + b + noise·N(0, 1).

    The notebook writes ``noise = np.random.randn(256) / 4``, i.e. ``noise=0.25``.
    Returns x, y: (n, 1) float32 each (PyTorch's ``x.reshape(-1, 1)``).
    """
    positive("n", n, integer=True)
    return _linear_data(prng_key("key", key), n, w, b, noise)


@jit_once(static_argnums=1)
def _linear_data(key: Array, n: int, w: float, b: float, noise: float) -> tuple[Array, Array]:
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1))
    y = w * x + b + noise * jax.random.normal(ke, (n, 1))
    return x, y


def synthetic_data(key: Array, w: Sequence[float] | Array = (2.0, -3.4), b: float = 4.2,
                   n: int = 1000, noise: float = 0.01) -> tuple[Array, Array]:
    """d2l's ``synthetic_data``: X ~ N(0, 1), y = X·w + b + noise·N(0, 1).

    Returns X: (n, len(w)) float32 and y: (n, 1) float32.
    """
    positive("n", n, integer=True)
    w = np.asarray(w, np.float32)
    if w.ndim != 1:
        raise ValueError(f"w must be a vector (d,); got shape {w.shape}")
    return _synthetic_data(prng_key("key", key), w, b, n, noise)


@jit_once(static_argnums=3)
def _synthetic_data(key: Array, w: Array, b: float, n: int, noise: float) -> tuple[Array, Array]:
    # One draw for X and the noise: every jax.random draw adds to the compile time.
    z = jax.random.normal(key, (n, w.shape[0] + 1))
    x = z[:, :-1]
    y = x @ w + b + noise * z[:, -1]
    return x, y.reshape(-1, 1)
