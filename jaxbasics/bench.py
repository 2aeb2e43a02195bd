"""Timing for benchmarks: warm-up, ``block_until_ready``, median of repeats, compile apart.

Speed is measured here and reported as ratios from one run; tests never assert a time.
"""

from __future__ import annotations

import dataclasses
import os
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


# AMD's CPU families and models by core generation (AMD's "model name" can be just "AMD
# EPYC"): family 25 (0x19) is Zen 3 or Zen 4 by model, 26 (0x1A) Zen 5.
_AMD_ZEN = {23: ((0, 0x30, "Zen/Zen+"), (0x30, 0x100, "Zen 2")),
            25: ((0, 0x10, "Zen 3"), (0x10, 0x20, "Zen 4"), (0x20, 0x60, "Zen 3"),
                 (0x60, 0x80, "Zen 4"), (0xA0, 0xB0, "Zen 4")),
            26: ((0, 0x100, "Zen 5"),)}


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU in one line, from ``/proc/cpuinfo`` (or the text given): model name,
    family/model, the AMD core generation where known, AVX-512 or AVX2, and the cores
    this process may use, e.g. ``"AMD EPYC (family 25, model 17: Zen 4; AVX-512), 2
    cores"``. Speed ratios are only comparable on the same CPU: print it beside them."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    name = fields.get("model name") or "unknown CPU"
    if "cpu family" not in fields:
        return f"{name}, {cores} cores"
    family, model = int(fields["cpu family"]), int(fields.get("model", "0"))
    zen = [g for lo, hi, g in _AMD_ZEN.get(family, ()) if lo <= model < hi]
    flags = fields.get("flags", "").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    generation = f": {zen[0]}" if zen and "AMD" in fields.get("vendor_id", name) else ""
    return f"{name} (family {family}, model {model}{generation}; {vector}), {cores} cores"


def reset_peak_rss() -> bool:
    """Start a new peak-memory window for this process (Linux: ``/proc/self/clear_refs``);
    False where that is not possible (the peak then covers the whole process)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mib() -> tuple[float, float]:
    """(current, peak since the last :func:`reset_peak_rss`) resident memory in MiB, from
    ``/proc/self/status`` (VmRSS, VmHWM); (nan, nan) where that file does not exist."""
    values = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(value.split()[0]) / 1024  # kB
    except OSError:
        pass
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))
