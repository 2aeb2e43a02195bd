"""Timing for benchmarks: warm-up, ``block_until_ready``, median of repeats, compile apart.

Speed is measured here and reported as ratios from one run; tests never assert a time.
:func:`time_call` times one function; :func:`interleaved` times several against each other
in rounds, so that a shared machine's drift slows them alike.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
from typing import Any, Callable, Mapping

import jax
import jax.extend as jex
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
    peak_rss_mib: float = float("nan")
    rss_growth_mib: float = float("nan")


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


def interleaved(variants: Mapping[str, Callable[[], Any]], *, rounds: int = 5,
                fast: float = 0.0, fast_seconds: float = 1.0, max_calls: int = 200,
                max_seconds: float | None = None) -> dict[str, Timing]:
    """Time several callables against each other on a machine whose speed drifts.

    Each variant is called once first (it compiles); then, round after round, every
    variant runs in turn, so a slow spell lands on all of them and the ratio of two
    variants is best taken round by round (``Timing.runs`` holds one time per round, the
    same rounds for every variant). A variant whose second call (made when the first,
    compile included, took less than ``fast_seconds``) takes less than ``fast`` seconds
    runs enough calls per round to fill ``fast_seconds / rounds`` (at most
    ``max_calls``), the round's median counting as its time: one preemption is many such
    calls. Rounds stop early once ``max_seconds`` have been spent on them (at least
    one round runs). Where Linux allows, each variant's peak resident memory over its
    calls is kept too, and the most it rose above the resident set before a call.
    Returns ``{name: Timing}``: the median over rounds, compile time (first call minus
    that median), the rounds' times, the last result and the memory figures.
    """
    positive("rounds", rounds, integer=True)
    first: dict[str, float] = {}
    out: dict[str, Any] = {}
    peaks: dict[str, list[float]] = {name: [] for name in variants}
    rises: dict[str, list[float]] = {name: [] for name in variants}

    def call(name: str) -> float:
        tracked = reset_peak_rss()
        before = rss_mib()[0]
        seconds, out[name] = _call(variants[name], ())
        if tracked:
            peak = rss_mib()[1]
            peaks[name].append(peak)
            rises[name].append(peak - before)
        return seconds

    for name in variants:
        first[name] = call(name)
    calls = {name: 1 for name in variants}
    for name in variants:
        if fast > 0 and first[name] < fast_seconds:  # compile included: it may be fast
            once = call(name)
            if once < fast:
                calls[name] = min(max_calls, max(1, int(fast_seconds / rounds / once)))
    runs: dict[str, list[float]] = {name: [] for name in variants}
    spent = 0.0
    for _ in range(rounds):
        for name in variants:
            times = [call(name) for _ in range(calls[name])]
            runs[name].append(statistics.median(times))
            spent += sum(times)
        if max_seconds is not None and spent > max_seconds:
            break
    timings = {}
    for name in variants:
        median = statistics.median(runs[name])
        timings[name] = Timing(median, max(first[name] - median, 0.0), runs[name], out[name],
                               max(peaks[name], default=float("nan")),
                               max(rises[name], default=float("nan")))
    return timings


def per_round_ratio(numerator: Timing, denominator: Timing) -> float:
    """The median over rounds of ``numerator``'s time over ``denominator``'s, for two
    timings from one :func:`interleaved` call (else the ratio of their medians)."""
    if len(numerator.runs) == len(denominator.runs) > 0:
        return statistics.median(a / b for a, b in zip(numerator.runs, denominator.runs))
    return numerator.seconds / denominator.seconds


def mlp_flops(sizes: tuple[int, ...], examples: int) -> float:
    """Matmul FLOPs of one SGD pass of an MLP with layer ``sizes`` over ``examples``:
    forward 2·in·out per layer, weight gradient as much again, input gradient as much
    again for every layer but the first (nothing needs the gradient of the images)."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * i * o for i, o in layers)
    return float(examples * (2 * forward + sum(2 * i * o for i, o in layers[1:])))


def dot_products(fn: Callable[..., Any], *args: Any) -> list[Any]:
    """Every matrix product (``dot_general``) ``fn(*args)`` computes, as jaxpr equations,
    nested programs included (``jit``, ``custom_vjp``, loops: a loop's body counted once).
    Trace a training step to get the products of its forward and backward passes."""
    found: list[Any] = []

    def walk(jaxpr) -> None:
        found.extend(eqn for eqn in jaxpr.eqns if eqn.primitive.name == "dot_general")
        for inner in jex.core.subjaxprs(jaxpr):
            walk(inner)
    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def product_flops(products: list[Any]) -> float:
    """Multiply-add FLOPs (2 per multiply-add) of ``dot_general`` equations."""
    total = 0.0
    for eqn in products:
        lhs, rhs = (v.aval.shape for v in eqn.invars)
        (contract, _), _ = eqn.params["dimension_numbers"]
        inner = math.prod(lhs[d] for d in contract)
        total += 2.0 * math.prod(eqn.outvars[0].aval.shape) * inner
    return total


def gemm_floor(products: list[Any], steps: int) -> Callable[[], Any]:
    """A program of nothing but ``products`` (from :func:`dot_products`), each run ``steps``
    times on random operands of its shapes: what those products cost at the least, the
    floor under a step that computes them among other things. Each iteration adds a
    carried scalar to the smaller operand of every product (so none is hoisted out of the
    loop) and writes each result into the loop's carry (so none is dropped). Returns a
    callable that runs it (compiled at the first call)."""
    keys = jax.random.split(jax.random.key(0), 2 * max(len(products), 1))
    operands = [tuple(jax.random.normal(k, v.aval.shape, v.aval.dtype)
                      for k, v in zip(keys[2 * i: 2 * i + 2], eqn.invars))
                for i, eqn in enumerate(products)]
    small = [int(a.size > b.size) for a, b in operands]  # which operand takes the scalar

    def product(eqn, a, b):
        return jax.lax.dot_general(a, b, eqn.params["dimension_numbers"],
                                   preferred_element_type=eqn.params["preferred_element_type"])

    @jax.jit
    def run(operands, shift):
        def body(_, carry):
            shift, _ = carry
            outs = []
            for eqn, (a, b), j in zip(products, operands, small):
                a, b = (a + shift.astype(a.dtype), b) if j == 0 else (a, b + shift.astype(b.dtype))
                outs.append(product(eqn, a, b))
            return shift * 0.5, outs
        outs = [jax.ShapeDtypeStruct(e.outvars[0].aval.shape, e.outvars[0].aval.dtype)
                for e in products]
        init = (shift, [jnp.zeros(o.shape, o.dtype) for o in outs])
        return jax.lax.fori_loop(0, steps, body, init)

    return lambda: run(operands, jnp.float32(0.0))


def kernel_times(fn: Callable[[], Any], calls: int = 20) -> dict[str, tuple[float, float]]:
    """Where a compiled program's time goes, kernel by kernel: ``{hlo op: (microseconds
    per call, launches per call)}`` over ``calls`` calls of ``fn()`` (after one untraced
    call), from a ``jax.profiler`` trace (XLA's events name the HLO op they ran), the
    most time first. A loop's op (``while``) includes the kernels it runs, so the values
    do not add up to the call's time; the rest of a call (dispatch, Python, waiting for a
    thread) is in no kernel."""
    import glob
    import gzip
    import json
    import tempfile

    positive("calls", calls, integer=True)
    jax.block_until_ready(fn())
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir, create_perfetto_trace=True)
        try:
            for _ in range(calls):
                jax.block_until_ready(fn())
        finally:
            jax.profiler.stop_trace()
        [path] = glob.glob(os.path.join(trace_dir, "**", "perfetto_trace.json.gz"),
                           recursive=True)
        with gzip.open(path, "rt") as f:
            trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    total: dict[str, float] = {}
    count: dict[str, int] = {}
    for e in events:
        op = e.get("args", {}).get("hlo_op") if e.get("ph") == "X" else None
        if op:
            total[op] = total.get(op, 0.0) + e.get("dur", 0.0)  # microseconds
            count[op] = count.get(op, 0) + 1
    return {op: (total[op] / calls, count[op] / calls)
            for op in sorted(total, key=total.get, reverse=True)}


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
