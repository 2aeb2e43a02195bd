"""What the fused loops cost at the least: the floors under the small loops and the epochs.

    python -m experiments._floors [--rounds 5] [--only WORKLOAD] [--no-torch]

Small loops (the d2l regression: 3 epochs x 100 batches of 10): one compiled call's
dispatch, the loop itself (300 empty steps), the epoch shuffles (this project's
:func:`~jaxbasics.data.batching.permutation` and ``jax.random.permutation``), the
whole-epoch gathers, the 300 steps on batches already gathered (model, gradient and
optimizer update), the engine's fused program, and ``fit`` around it; then the kernels
inside that program, each with the time ``jax.profiler`` saw it take per epoch and the
threads XLA's CPU backend splits it over (:func:`fused_kernels`).

Epochs (the MNIST MLP, LeNet, and the ResNet, GoogLeNet and DenseNet of ``classic_cnns``,
as ``jit_vs_eager`` times them): ``fit`` fused and jit and the PyTorch original, against
the floor of the same matrix products the step computes (every ``dot_general`` of its
forward and backward passes, read from its trace: :func:`jaxbasics.bench.dot_products`)
run alone in one compiled loop (:func:`jaxbasics.bench.gemm_floor`), and the float32
2048 x 2048 matmul rate. What an epoch spends beyond that floor is everything else:
the im2col copies, batch-norm, activations, pools, the optimizer, the gathers.

Every variant runs once per round, in turn, so drift in a shared machine's load hits them
alike; the medians over rounds are printed with the CPU model and the load average.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from jaxbasics import bench
from jaxbasics.bench import cpu_model, dot_products, gemm_floor, matmul_gflops, product_flops


def interleaved(variants: dict[str, Callable], rounds: int, calls: int) -> dict[str, float]:
    """Median seconds per call of each variant over ``rounds`` rounds in which every
    variant runs in turn (:func:`jaxbasics.bench.interleaved`); a variant under 10 ms a
    call runs up to ``calls`` times a round, the round's median counting."""
    timed = bench.interleaved(variants, rounds=rounds, fast=0.01, max_calls=calls)
    return {name: t.seconds for name, t in timed.items()}


def small_loop_variants() -> dict[str, Callable]:
    """The d2l regression's floors, each a callable returning something to block on."""
    from experiments import linreg_scratch
    from jaxbasics.data.batching import epoch_indices, take
    from jaxbasics.train import fit, init_state

    step, params, data, key = linreg_scratch.problem(0, quick_compile=False)  # steady state
    state = init_state(params, step)
    epochs, n, bs = 3, 1000, 10
    keys = jnp.arange(epochs)

    @jax.jit
    def orders(key):
        return jax.vmap(lambda e: epoch_indices(jax.random.fold_in(key, e), n, bs))(keys)

    @jax.jit
    def orders_jax_random(key):
        return jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(key, e), n))(keys)

    rows = orders(key)
    takes = jax.jit(lambda d, r: jax.lax.map(lambda x: take(d, x), r))
    batches = jax.tree.map(lambda a: a.reshape(epochs * (n // bs), bs, -1), takes(data, rows))
    steps = jax.jit(lambda s, b: jax.lax.scan(step.fn, s, b))
    empty = jax.jit(lambda c: jax.lax.fori_loop(0, epochs * n // bs, lambda i, c: c + 1, c))
    nothing = jax.jit(lambda x: x + 1)
    zero = jnp.zeros((), jnp.int32)
    run = lambda: fit(step, state, data, epochs=epochs, batch_size=bs, key=key,  # noqa: E731
                      mode="fused")[1].loss[-1]
    run()
    program, args, kwargs = _fused_program(step, state, data, key, epochs, n, bs)
    return {
        "one dispatch (x + 1)": lambda: nothing(zero),
        "300 empty loop steps": lambda: empty(zero),
        "3 shuffles, permutation": lambda: orders(key),
        "3 shuffles, jax.random.permutation": lambda: orders_jax_random(key),
        "3 whole-epoch gathers": lambda: takes(data, rows),
        "300 steps on gathered batches": lambda: steps(state, batches),
        "the engine's fused program": lambda: program(*args, **kwargs),
        "fit(mode='fused')": run,
    }


def _fused_program(step, state, data, key, epochs: int, n: int, bs: int):
    """The engine's program that ``fit(mode='fused')`` runs for ``epochs`` whole shuffled
    epochs of ``n`` examples in batches of ``bs`` (on the full pipeline, which
    ``quick_compile=False`` takes), with the arguments fit calls it with: (program, args,
    kwargs)."""
    args = (state, data, key, 0, 0, np.int32(epochs), np.int32(n // bs))
    kwargs = dict(epochs=epochs, batches=n // bs, batch_size=bs, n=n, whole_epoch=True,
                  unroll=1)
    return step._programs["fused"].jitted["full"], args, kwargs


def fused_kernels(calls: int = 50) -> list[tuple[str, str, float, float]]:
    """Inside the d2l regression's fused run (3 epochs, as ``fit`` times it above): XLA's
    kernels, each (op, what it is: its result and opcode, and the threads XLA splits it
    over, if any; microseconds per epoch; launches per epoch), the most time first
    (:func:`jaxbasics.bench.kernel_times`; a loop's op includes its body)."""
    from experiments import linreg_scratch
    from jaxbasics.train import fit, init_state

    step, params, data, key = linreg_scratch.problem(0, quick_compile=False)
    state, epochs, n, bs = init_state(params, step), 3, 1000, 10
    run = lambda: fit(step, state, data, epochs=epochs, batch_size=bs, key=key,  # noqa: E731
                      mode="fused")[1].loss[-1]
    times = bench.kernel_times(run, calls)
    program, args, kwargs = _fused_program(step, state, data, key, epochs, n, bs)
    hlo = program.lower(*args, **kwargs).compile().as_text()
    return [(op, _what(hlo, op), us / epochs, launches / epochs)
            for op, (us, launches) in times.items()]


def _what(hlo: str, op: str) -> str:
    """``op``'s result type and opcode in the compiled HLO text, and the threads XLA's CPU
    backend splits it over (its ``outer_dimension_partitions``), e.g. ``"f32[100,10,2]
    fusion, split over 2 threads"``."""
    line = next((ln for ln in hlo.splitlines() if ln.strip().startswith(f"%{op} = ")), "")
    shape = re.match(rf"\s*%{re.escape(op)} = ([a-z0-9]+\[[^\]]*\])", line)
    opcode = re.search(r" ([\w-]+)\(%", line)  # the operands follow the opcode
    what = " ".join(m.group(1) for m in (shape, opcode) if m)
    split = re.search(r'"outer_dimension_partitions":\["(\d+)"', line)
    return what + (f", split over {split.group(1)} threads" if split else "")


# The workloads of experiments.jit_vs_eager whose epochs have a GEMM floor here.
EPOCH_WORKLOADS = ("mnist_mlp", "lenet", "classic_cnns")
# Their names for --only: the module that makes each and how its workload's name starts.
WORKLOADS = {"mlp": ("mnist_mlp", "MNIST MLP"), "lenet": ("lenet", "LeNet"),
             "resnet": ("classic_cnns", "ResNet"), "googlenet": ("classic_cnns", "GoogLeNet"),
             "densenet": ("classic_cnns", "DenseNet")}


def epoch_variants(workload, torch: bool = True) -> tuple[dict[str, Callable], float]:
    """A workload's epochs (``workload.units`` of them) in fit (fused, jit), in PyTorch,
    and as the floor of its step's matrix products alone; and the FLOPs of those products
    (what the step multiplies, forward and backward, counted from its trace)."""
    step, state, batch, steps = workload.traced()
    products = dot_products(step.fn, state, batch)
    units = workload.units
    variants = {"fit(mode='fused')": lambda: workload.run("fused", units),
                "fit(mode='jit')": lambda: workload.run("jit", units)}
    if torch and workload.torch is not None:
        variants["PyTorch (seed loop)"] = lambda: workload.torch(units)
    variants["its matrix products alone"] = gemm_floor(products, steps * units)
    return variants, product_flops(products) * steps * units


def _unknown(name: str) -> str:
    return f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}"


def workload_name(text: str) -> str:
    """argparse type: one of :data:`WORKLOADS` (``--only``), in any case."""
    if text.lower() not in WORKLOADS:
        raise argparse.ArgumentTypeError(_unknown(text))
    return text.lower()


def epoch_workloads(only: str | None = None) -> list:
    """The workloads of :data:`EPOCH_WORKLOADS` that carry a trace (``Workload.traced``);
    with ``only`` (a name of :data:`WORKLOADS`, in any case) that one alone."""
    import importlib
    if only is not None:
        if only.lower() not in WORKLOADS:
            raise ValueError(_unknown(only))
        only = only.lower()
    modules = EPOCH_WORKLOADS if only is None else (WORKLOADS[only][0],)
    found = []
    for name in modules:
        for w in importlib.import_module(f"experiments.{name}").workloads(False):
            if w.traced is not None and (only is None or w.name.startswith(WORKLOADS[only][1])):
                found.append(w)
    return found


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="_floors.py", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=_cli.positive_int, default=5,
                   help="rounds of interleaved timing (default 5)")
    p.add_argument("--only", type=workload_name, default=None, metavar="WORKLOAD",
                   help="time only this epoch workload: " + ", ".join(WORKLOADS)
                        + " (any case, e.g. ResNet; default: all)")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch loops")
    args = p.parse_args(argv)
    print(f"CPU: {cpu_model()}; load average {os.getloadavg()[0]:.2f} "
          "(timings on a shared machine: compare the rows, not the seconds)")
    out = {}
    small = interleaved(small_loop_variants(), args.rounds, calls=100)
    print("\nd2l regression, 3 epochs x 100 batches of 10 (median of rounds):")
    for name, seconds in small.items():
        print(f"  {name:38s} {seconds * 1e6:8.1f} us")
    out["small_loop_us"] = {k: v * 1e6 for k, v in small.items()}
    kernels = fused_kernels()
    print("\nInside fit(mode='fused'), XLA's kernels per epoch (jax.profiler; a loop's op "
          "includes its body; the rest of a call is dispatch, Python and waiting for threads):")
    for op, what, us, launches in kernels[:8]:
        print(f"  {op:36s} {us:8.1f} us  x{launches:.3g}  {what}")
    out["fused_kernels_us_per_epoch"] = {op: us for op, _, us, _ in kernels}
    rate = statistics.median(matmul_gflops(repeats=3) for _ in range(3))
    print(f"\nEpochs against their matrix products alone (2048 x 2048 matmul rate "
          f"{rate:.0f} GFLOP/s; median of rounds):")
    out["matmul_gflops"], out["epochs_ms"] = rate, {}
    for workload in epoch_workloads(args.only):
        variants, flops = epoch_variants(workload, torch=not args.no_torch)
        timed = bench.interleaved(variants, rounds=args.rounds, fast=0.01, max_calls=3)
        floor = timed["its matrix products alone"]
        print(f"{workload.name}, {workload.units} {workload.unit}(s), "
              f"{flops / 1e9:.1f} GFLOP of products:")
        for name, t in timed.items():
            achieved = flops / t.seconds / 1e9
            torch_ratio = ""
            if "PyTorch (seed loop)" in timed and name != "PyTorch (seed loop)":
                torch_ratio = (", PyTorch / this "
                               f"{bench.per_round_ratio(timed['PyTorch (seed loop)'], t):.2f}x")
            print(f"  {name:28s} {t.seconds * 1e3:8.1f} ms  {achieved:5.0f} GFLOP/s  "
                  f"{100 * achieved / rate:3.0f} % of the matmul rate, "
                  f"{bench.per_round_ratio(floor, t):.2f}x the floor's speed{torch_ratio}")
        out["epochs_ms"][workload.name] = {k: t.seconds * 1e3 for k, t in timed.items()}
    return out


if __name__ == "__main__":
    main()
