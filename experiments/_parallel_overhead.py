"""Per-step overhead of data parallel: the same global batch on 1, 2 or 4 devices.

    python -m experiments._parallel_overhead --devices N [--repeats 5]

One process per device count (simulated CPU devices are fixed when JAX starts). On a CPU
the simulated devices share the same cores, so this measures what the SPMD program costs
(the sharded gather's reduce-scatter, the gradient all-reduce, smaller per-device
matmuls), not a speed-up. Prints one line per workload: median ms per step over
``--repeats`` timed epochs after one warm-up epoch (compilation excluded).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from experiments import _cli


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=_cli.positive_int, default=1)
    p.add_argument("--repeats", type=_cli.positive_int, default=5)
    args = p.parse_args()
    if args.devices > 1:
        jax.config.update("jax_num_cpu_devices", args.devices)

    from experiments import lenet, mnist_mlp
    from jaxbasics.data import load
    from jaxbasics.train import fit, init_state

    from jaxbasics import parallel

    ds = load("mnist", "train")
    mesh = parallel.make_mesh(args.devices) if args.devices > 1 else None
    # Placed once, as fit places it once per call: the timings are the steps alone.
    data = jax.device_put((ds.images, ds.labels)) if mesh is None else parallel.shard_data(
        (ds.images, ds.labels), mesh)[0]
    apply, params = mnist_mlp.model(jax.random.key(0))
    for name, step, params, batch_size, mode in (
            ("MLP 784-200-200-10, batch 200", mnist_mlp.make(apply), params, 200, "fused"),
            ("MLP 784-200-200-10, batch 200", mnist_mlp.make(apply), params, 200, "jit"),
            ("LeNet, batch 64", lenet.make(), lenet.init_lenet(jax.random.key(0)), 64, "fused")):
        times = []
        for r in range(args.repeats + 1):
            state = init_state(params, step)
            jax.block_until_ready(state)
            start = time.perf_counter()
            _, history = fit(step, state, data, epochs=1, batch_size=batch_size,
                             key=jax.random.key(1), mode=mode, mesh=mesh)
            if r:
                times.append((time.perf_counter() - start) / len(history.loss))
        print(f"{args.devices} device(s)  {mode:5s}  {name}: "
              f"{1e3 * statistics.median(times):.3f} ms/step "
              f"(min {1e3 * min(times):.3f}, {len(history.loss)} steps/epoch, "
              f"final loss {history.loss[-1]:.6f})", flush=True)


if __name__ == "__main__":
    main()
