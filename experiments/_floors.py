"""What the fused loops cost at the least: the floors under the small loops and the MLP.

    python -m experiments._floors [--rounds 5]

Small loops (the d2l regression: 3 epochs x 100 batches of 10): one compiled call's
dispatch, the loop itself (300 empty steps), the epoch shuffles (this project's
:func:`~jaxbasics.data.batching.permutation` and ``jax.random.permutation``), the
whole-epoch gathers, the 300 steps on batches already gathered (model, gradient and
optimizer update), the engine's fused program, and ``fit`` around it.

MLP (784-200-200-10, batch 200, the 4,000 embedded digits, 5 epochs as in
``jit_vs_eager``): the fused and jit ``fit`` against the floor of the same eight matrix
products per step (three forward, three weight gradients, two input gradients: what
:func:`jaxbasics.bench.mlp_flops` counts) in one compiled loop, and the float32 2048 x 2048
matmul rate.

Every variant runs once per round, in turn, so drift in a shared machine's load hits them
alike; the medians over rounds are printed with the CPU model and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics import bench
from jaxbasics.bench import cpu_model, matmul_gflops, mlp_flops


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
    program = step._programs["fused"].jitted["full"]  # the pipeline quick_compile=False takes
    chunk_args = (np.int32(epochs), np.int32(n // bs))
    return {
        "one dispatch (x + 1)": lambda: nothing(zero),
        "300 empty loop steps": lambda: empty(zero),
        "3 shuffles, permutation": lambda: orders(key),
        "3 shuffles, jax.random.permutation": lambda: orders_jax_random(key),
        "3 whole-epoch gathers": lambda: takes(data, rows),
        "300 steps on gathered batches": lambda: steps(state, batches),
        "the engine's fused program": lambda: program(
            state, data, key, 0, 0, *chunk_args, epochs=epochs, batches=n // bs,
            batch_size=bs, n=n, whole_epoch=True, unroll=1),
        "fit(mode='fused')": run,
    }


def mlp_variants(epochs: int = 5) -> tuple[dict[str, Callable], float]:
    """The MLP epoch in fit (fused, jit) and its eight-GEMM floor; and its FLOPs."""
    from experiments import _cli, mnist_mlp
    from jaxbasics.data import load
    from jaxbasics.train import fit, init_state

    ds = load("mnist", "train")
    data = jax.device_put((ds.images, ds.labels))
    k_init, key = _cli.keys(0, 2)
    apply, params = mnist_mlp.model(k_init)
    step = mnist_mlp.make(apply)
    bs = mnist_mlp.BATCH_SIZE
    steps = epochs * (len(ds.labels) // bs)
    x, h, g = (jax.random.normal(k, (bs, d)) for k, d in
               zip(jax.random.split(key, 3), (784, 200, 10)))

    @jax.jit
    def gemms(ws):
        """The step's eight products on fixed activations, ``steps`` times."""
        def body(_, ws):
            w1, w2, w3 = ws
            a1, a2 = x @ w1.T, h @ w2.T                            # forward 1, 2
            a3 = a2 @ w3.T                                         # forward 3
            d2 = g @ w3                                            # input gradient 3
            d1 = d2 @ w2                                           # input gradient 2
            g3, g2, g1 = g.T @ a2, d2.T @ a1, d1.T @ x             # weight gradients
            return (w1 - 1e-6 * g1, w2 - 1e-6 * g2, w3 - 1e-6 * g3 + 1e-9 * a3.sum())
        return jax.lax.fori_loop(0, steps, body, ws)

    ws = tuple(layer["w"] for layer in params)

    def run(mode):
        return fit(step, init_state(params, step), data, epochs=epochs, batch_size=bs,
                   key=key, mode=mode)[1].loss[-1]
    variants = {"fit(mode='fused')": lambda: run("fused"), "fit(mode='jit')": lambda: run("jit"),
                "the eight GEMMs alone": lambda: gemms(ws)}
    return variants, mlp_flops((784, 200, 200, 10), steps * bs)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    print(f"CPU: {cpu_model()}; load average {os.getloadavg()[0]:.2f} "
          "(timings on a shared machine: compare the rows, not the seconds)")
    out = {}
    small = interleaved(small_loop_variants(), args.rounds, calls=100)
    print("\nd2l regression, 3 epochs x 100 batches of 10 (median of rounds):")
    for name, seconds in small.items():
        print(f"  {name:38s} {seconds * 1e6:8.1f} us")
    out["small_loop_us"] = {k: v * 1e6 for k, v in small.items()}
    variants, flops = mlp_variants()
    mlp = interleaved(variants, args.rounds, calls=3)
    rate = statistics.median(matmul_gflops(repeats=3) for _ in range(3))
    print(f"\nMNIST MLP, 5 epochs of 4,000 digits, batch 200 ({flops / 1e9:.1f} GFLOP); "
          f"2048 x 2048 matmul rate {rate:.0f} GFLOP/s:")
    for name, seconds in mlp.items():
        achieved = flops / seconds / 1e9
        print(f"  {name:24s} {seconds * 1e3:7.1f} ms  {achieved:5.0f} GFLOP/s  "
              f"{100 * achieved / rate:3.0f} % of the matmul rate, "
              f"{mlp['the eight GEMMs alone'] / seconds:.2f}x the GEMM floor's speed")
    out["mlp_ms"] = {k: v * 1e3 for k, v in mlp.items()}
    out["matmul_gflops"] = rate
    return out


if __name__ == "__main__":
    main()
