"""jit_once: the quick CPU pipeline gives eager's values (to the last bits), compiles once,
and is plain ``fun`` inside another program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics._once import CPU_OPTIONS, jit_once
from tests._compiles import count_compiles


def draws(key, n: int):
    """An initialiser's kind of work: draws, a product, a nonlinearity."""
    k1, k2 = jax.random.split(key)
    w = jax.random.normal(k1, (n, 8))
    x = jax.random.uniform(k2, (5, n), minval=-1.0, maxval=1.0)
    return {"w": w, "h": jnp.tanh(x @ w), "i": jax.random.randint(k2, (7,), 0, 10)}


def test_values_are_eagers_to_the_last_bits_and_a_second_call_compiles_nothing():
    once = jit_once(draws, static_argnums=1)
    key = jax.random.key(3)
    with count_compiles() as first:
        got = jax.device_get(once(key, 16))
    with jax.disable_jit():
        eager = jax.device_get(draws(key, 16))
    np.testing.assert_array_equal(got["i"], eager["i"])  # integer draws: bit for bit
    # Floats within a few units in the last place (one program rounds a multiply-add once
    # where op by op rounds twice): the normal draws' tails, a product and its tanh.
    np.testing.assert_array_max_ulp(got["w"], eager["w"], maxulp=4)
    np.testing.assert_allclose(got["h"], eager["h"], rtol=1e-6, atol=1e-7)
    with count_compiles() as second:
        once(key, 16)
    assert first.count == 1 and second.count == 0, (first.names, second.names)


def test_the_cpu_options_are_xla_debug_options_this_jaxlib_knows():
    # An unknown name fails at compile time ("No such compile option"): compile with them.
    if jax.default_backend() != "cpu":
        return
    compiled = jax.jit(jnp.sin).lower(jnp.ones(3)).compile(compiler_options=CPU_OPTIONS)
    np.testing.assert_array_equal(compiled(jnp.zeros(3)), np.zeros(3))
    assert CPU_OPTIONS["xla_cpu_parallel_codegen_split_count"] == 1


def test_inside_another_program_it_is_traced_into_the_caller():
    once = jit_once(lambda x: x * 2.0)
    with count_compiles() as seen:
        y = jax.jit(lambda x: once(x) + 1.0)(np.arange(3.0, dtype=np.float32))
    np.testing.assert_array_equal(y, [1.0, 3.0, 5.0])
    assert seen.count == 1, seen.names  # the caller's program only
