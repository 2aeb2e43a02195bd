"""Timing for benchmarks: warm-up, ``block_until_ready``, median of repeats, compile apart.

Speed is measured here and reported as ratios from one run; tests never assert a time.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxbasics._checks import positive


@dataclasses.dataclass
class Timing:
    """seconds: median run time after the first call; compile_seconds: first call minus that
    median (tracing + XLA compilation; ~0 for eager code); runs: every run time; result:
    the last call's return value."""

    seconds: float
    compile_seconds: float
    runs: list[float]
    result: Any = None


def _call(fn: Callable, args: tuple) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def time_call(fn: Callable[..., Any], *args: Any, repeats: int = 5,
              max_seconds: float | None = None) -> Timing:
    """Time ``fn(*args)``: one first call (compiles), then ``repeats`` timed calls.

    The result of every call is blocked on, so asynchronous dispatch is counted.
    ``max_seconds`` stops repeating once that much time has been spent on repeats (a slow
    eager loop is then timed fewer times); with ``repeats=0`` the first call is the timing.
    """
    if repeats:
        positive("repeats", repeats, integer=True)
    first, out = _call(fn, args)
    runs: list[float] = []
    spent = 0.0
    for _ in range(repeats):
        if max_seconds is not None and runs and spent + runs[-1] > max_seconds:
            break
        seconds, out = _call(fn, args)
        runs.append(seconds)
        spent += seconds
    if not runs:
        return Timing(first, 0.0, [first], out)
    median = statistics.median(runs)
    return Timing(median, max(first - median, 0.0), runs, out)


def mlp_flops(sizes: tuple[int, ...], examples: int) -> float:
    """Matmul FLOPs of one SGD pass of an MLP with layer ``sizes`` over ``examples``:
    forward 2·in·out per layer, weight gradient as much again, input gradient as much
    again for every layer but the first (nothing needs the gradient of the images)."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * i * o for i, o in layers)
    return float(examples * (2 * forward + sum(2 * i * o for i, o in layers[1:])))


def matmul_gflops(n: int = 2048, dtype: Any = jnp.float32, repeats: int = 5) -> float:
    """The device's matrix-multiply rate in GFLOP/s on an (n, n) @ (n, n) product."""
    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    timing = time_call(jax.jit(jnp.matmul), a, a, repeats=repeats)
    return 2 * n**3 / timing.seconds / 1e9
