"""Argument checks that fail with a clear message before XLA can."""

from __future__ import annotations

from typing import Any, Iterable


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ValueError naming ``name``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """Return ``value`` if it is a positive number (an int if ``integer``), else raise."""
    kind = "a positive integer" if integer else "a positive number"
    if isinstance(value, bool) or (integer and not isinstance(value, int)):
        raise TypeError(f"{name} must be {kind}; got {value!r}")
    try:
        ok = value > 0
    except TypeError:
        raise TypeError(f"{name} must be {kind}; got {value!r}") from None
    if not ok:
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return value


def number(name: str, value: Any) -> Any:
    """Return ``value`` if it is a Python number (not a bool), else raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    return value


def non_negative(name: str, value: Any) -> Any:
    """Return ``value`` if it is a number >= 0, else raise naming ``name``."""
    if not number(name, value) >= 0:
        raise ValueError(f"{name} must be >= 0; got {value!r}")
    return value


def prng_key(name: str, key: Any) -> Any:
    """Return ``key`` if it is one PRNG key: ``jax.random.key``'s typed key, shape (), or a
    raw ``jax.random.PRNGKey``, uint32 (2,) (traced ones too: only dtype and shape are
    looked at); else raise TypeError naming ``name``."""
    import jax
    import jax.numpy as jnp
    dtype = getattr(key, "dtype", None)
    if dtype is not None and (jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
                              and key.shape == ()
                              or dtype == jnp.uint32 and key.shape == (2,)):
        return key
    raise TypeError(f"{name} must be a PRNG key, jax.random.key(seed); got "
                    f"{type(key).__name__} {getattr(key, 'shape', '')}".rstrip())


def same_leading_axis(**arrays: Any) -> int:
    """Return the common length of the arrays' first axes, or raise naming the odd one out."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arrays must have the same number of rows (first axis): {described}")
    return next(iter(lengths.values()))
