"""Minibatch indices: one shuffled epoch as an (num_batches, batch_size) index array.

The training engine gathers each batch on the device with :func:`take`, so a whole epoch
can run inside one compiled ``lax.scan`` with no host transfer per batch.

The shuffle is :func:`permutation`, not ``jax.random.permutation``: on the CPU XLA sorts
keys *with* a payload (what ``jax.random.permutation`` does) about five times slower than
one uint32 array, and that sort was most of a small fused loop's time (measured on a
loaded 2-core Zen 4, AMD EPYC family 25 model 17: 1,000 examples 161 µs against 60 µs,
4,000 1.4 ms against 0.2 ms, 60,000 26 ms against 2.2 ms). The keys are distinct, so a
stable sort and an unstable one give the same order; XLA's CPU sort of up to about 5,000
keys is faster unstable and of more is faster stable (the same Zen 4, 9 interleaved
rounds: 1,000 keys 14 against 23 µs, 3 x 1,000 40 against 73, 4,000 81 against 108;
8,000 350 against 245, 60,000 3.2 against 2.3 ms), so :data:`UNSTABLE_UP_TO` picks.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import positive, prng_key


def num_batches(n: int, batch_size: int, drop_last: bool = True) -> int:
    """How many batches of ``batch_size`` an epoch of ``n`` examples has."""
    positive("batch_size", batch_size, integer=True)
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) is larger than the data ({n} examples)")
    return n // batch_size if drop_last else -(-n // batch_size)


# lowbias32 (C. Wellons, "hash-prospector"): a bijection of uint32 with near-ideal avalanche,
# and the multipliers of its inverse (the modular inverses mod 2**32).
_MIX = (0x7FEB352D, 0x846CA68B)
_UNMIX = tuple(pow(m, -1, 2**32) for m in reversed(_MIX))


def _mix(x: Array) -> Array:
    """lowbias32 of a uint32 array, elementwise (a bijection of uint32)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(_MIX[0])
    x = x ^ (x >> 15)
    x = x * jnp.uint32(_MIX[1])
    return x ^ (x >> 16)


def _unmix(x: Array) -> Array:
    """The inverse of :func:`_mix`: ``_unmix(_mix(x)) == x``."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(_UNMIX[0])
    x = x ^ (x >> 15) ^ (x >> 30)
    x = x * jnp.uint32(_UNMIX[1])
    return x ^ (x >> 16)


# The most keys XLA's CPU sort orders faster unstable than stable (see the module docstring).
UNSTABLE_UP_TO = 4096


def permutation(key: Array, n: int) -> Array:
    """A random permutation of ``arange(n)``, (n,) int32, fixed by ``key``.

    Each index ``i`` gets the sort key ``h(i) = mix(mix(i + s0) ^ s1)``, where ``mix`` is a
    bijection of uint32 (:func:`_mix`) and ``s0, s1`` are 32 random bits each drawn from
    ``key``; sorting the keys orders the indices at random. Because ``h`` is a bijection the
    keys are distinct (no ties to break) and each sorted key gives back its index by the
    inverse, so one sort of a single uint32 array does the work (XLA's CPU sort of one
    array is about five times faster than its key-value sort), stable or not (the same
    order: :data:`UNSTABLE_UP_TO` chooses the faster).
    """
    s = jax.random.bits(prng_key("key", key), (2,), jnp.uint32)
    h = _mix(_mix(jnp.arange(n, dtype=jnp.uint32) + s[0]) ^ s[1])
    ordered = jax.lax.sort(h, is_stable=n > UNSTABLE_UP_TO)
    return (_unmix(_unmix(ordered) ^ s[1]) - s[0]).astype(jnp.int32)


def epoch_indices(key: Array | None, n: int, batch_size: int) -> Array:
    """Indices of one epoch: (n // batch_size, batch_size) int32.

    Shuffled by ``key`` (:func:`permutation`), in order if ``key`` is None. The last
    partial batch is dropped so that every batch has the same shape and nothing recompiles
    (PyTorch's ``DataLoader(drop_last=True)``); ``n % batch_size`` examples sit out an epoch,
    a different few each epoch when shuffled.
    """
    nb = num_batches(n, batch_size)
    order = jnp.arange(n, dtype=jnp.int32) if key is None else permutation(key, n)
    return order[: nb * batch_size].reshape(nb, batch_size).astype(jnp.int32)


def take(data: Any, idx: Array) -> Any:
    """Rows ``idx`` of every array in the pytree ``data`` (a batch)."""
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)
