"""Minibatch indices: one shuffled epoch as an (num_batches, batch_size) index array.

The training engine gathers each batch on the device with :func:`take`, so a whole epoch
can run inside one compiled ``lax.scan`` with no host transfer per batch.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import positive


def num_batches(n: int, batch_size: int, drop_last: bool = True) -> int:
    """How many batches of ``batch_size`` an epoch of ``n`` examples has."""
    positive("batch_size", batch_size, integer=True)
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) is larger than the data ({n} examples)")
    return n // batch_size if drop_last else -(-n // batch_size)


def epoch_indices(key: Array | None, n: int, batch_size: int) -> Array:
    """Indices of one epoch: (n // batch_size, batch_size) int32.

    Shuffled by ``key`` (``jax.random.permutation``), in order if ``key`` is None. The last
    partial batch is dropped so that every batch has the same shape and nothing recompiles
    (PyTorch's ``DataLoader(drop_last=True)``); ``n % batch_size`` examples sit out an epoch,
    a different few each epoch when shuffled.
    """
    nb = num_batches(n, batch_size)
    order = jnp.arange(n, dtype=jnp.int32) if key is None else jax.random.permutation(key, n)
    return order[: nb * batch_size].reshape(nb, batch_size).astype(jnp.int32)


def take(data: Any, idx: Array) -> Any:
    """Rows ``idx`` of every array in the pytree ``data`` (a batch)."""
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)
