"""The epoch shuffle: a permutation, uniform, reproducible (no timed assertions)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics.data import batching
from jaxbasics.data.batching import _mix, _unmix, permutation


def test_mix_is_a_bijection_with_its_inverse():
    x = np.random.default_rng(0).integers(0, 2**32, 4096, dtype=np.uint64).astype(np.uint32)
    x = jnp.asarray(np.concatenate([x, [0, 1, 2**31, 2**32 - 1]]).astype(np.uint32))
    np.testing.assert_array_equal(np.asarray(_unmix(_mix(x))), np.asarray(x))


def test_permutation_is_a_permutation_fixed_by_its_key():
    for n in (1, 2, 7, 1000, 70000):
        p = np.asarray(permutation(jax.random.key(3), n))
        assert p.dtype == np.int32
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    np.testing.assert_array_equal(permutation(jax.random.key(4), 50),
                                  permutation(jax.random.key(4), 50))
    assert not np.array_equal(permutation(jax.random.key(4), 50),
                              permutation(jax.random.key(5), 50))


def test_permutation_is_uniform():
    """Every element equally likely at every position (chi-square, 81 degrees of freedom,
    below the 99.9 % point 124 for these fixed keys), and all 24 orders of 4 appear."""
    keys = jax.random.split(jax.random.key(1), 50_000)
    ps = np.asarray(jax.jit(jax.vmap(lambda k: permutation(k, 10)))(keys))
    table = np.stack([np.bincount(ps[:, pos], minlength=10) for pos in range(10)])
    expected = len(keys) / 10
    assert ((table - expected) ** 2 / expected).sum() < 124
    fours = np.asarray(jax.jit(jax.vmap(lambda k: permutation(k, 4)))(keys[:2400]))
    assert len({tuple(p) for p in fours}) == 24


def test_permutation_is_the_order_of_its_hashed_keys_either_side_of_the_unstable_sort():
    """Below and above ``UNSTABLE_UP_TO`` the permutation is the same function of the key:
    the indices in the order of their distinct hashed keys (NumPy's stable argsort)."""
    key = jax.random.key(7)
    s = np.asarray(jax.random.bits(key, (2,), jnp.uint32))
    for n in (1000, batching.UNSTABLE_UP_TO, batching.UNSTABLE_UP_TO + 1, 60_000):
        h = np.asarray(_mix(_mix(jnp.arange(n, dtype=jnp.uint32) + s[0]) ^ s[1]))
        assert len(np.unique(h)) == n
        np.testing.assert_array_equal(np.asarray(permutation(key, n)),
                                      np.argsort(h, kind="stable"))
