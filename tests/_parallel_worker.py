"""One process of tests/test_parallel.py: a short data-parallel run, results as JSON.

    python -m tests._parallel_worker TASK --devices D --out FILE
        [--coordinator HOST:PORT --processes P --id I] [--checkpoints DIR] [--die-at E]

TASK ``curves``: MLP (jit, fused) and LeNet (fused) on 1 device and on the mesh of all
devices, same seeds; also, in one process, the batch error and a checkpoint of the mesh
run. TASK ``lost``: the MLP with a checkpoint every epoch; with ``--die-at E`` process 1
kills itself after epoch E; a directory holding checkpoints is resumed from. Process 0
writes FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import jax

p = argparse.ArgumentParser()
p.add_argument("task", choices=("curves", "lost"))
p.add_argument("--devices", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--coordinator")
p.add_argument("--processes", type=int, default=1)
p.add_argument("--id", type=int, default=0)
p.add_argument("--checkpoints")
p.add_argument("--die-at", type=int, default=None)
args = p.parse_args()

jax.config.update("jax_num_cpu_devices", args.devices)  # before the backend starts
from jaxbasics import parallel  # noqa: E402

parallel.distributed_init(args.coordinator, args.processes, args.id, heartbeat_timeout=5)

import numpy as np  # noqa: E402

from experiments import lenet, mnist_mlp  # noqa: E402
from jaxbasics.checkpoint import Checkpoints, save  # noqa: E402
from jaxbasics.data import load  # noqa: E402
from jaxbasics.train import fit, init_state  # noqa: E402

mesh = parallel.make_mesh()
ds = load("mnist", "train")
order = np.random.default_rng(0).permutation(len(ds.labels))  # the embedded set is sorted
x, y = ds.images[order], ds.labels[order]
results: dict = {"devices": jax.device_count(), "processes": jax.process_count()}


def run(model: str, mode: str, on, examples: int, epochs: int, **kw):
    if model == "mlp":
        apply, params = mnist_mlp.model(jax.random.key(0))
        step, bs = mnist_mlp.make(apply), 200
    else:
        step, params, bs = lenet.make(), lenet.init_lenet(jax.random.key(0)), 64
    state, history = fit(step, init_state(params, step), (x[:examples], y[:examples]),
                         epochs=epochs, batch_size=bs, key=jax.random.key(1), mode=mode,
                         mesh=on, **kw)
    test = (x[-500:], y[-500:])
    return step, state, history, step.evaluate(state, test, 100, mesh=on)


if args.task == "curves":
    for model, mode, examples, epochs in (("mlp", "jit", 1000, 2), ("mlp", "fused", 1000, 2),
                                          ("lenet", "fused", 512, 1)):
        got = {}
        for name, on in (("one", None), ("mesh", mesh)):
            step, state, history, evaluation = run(model, mode, on, examples, epochs)
            got[name] = {"loss": history.loss.tolist(), "eval": evaluation}
        results[f"{model}/{mode}"] = got
    if jax.process_count() == 1:
        apply, params = mnist_mlp.model(jax.random.key(0))
        step = mnist_mlp.make(apply)
        try:  # 198 examples do not split over 4 devices
            fit(step, init_state(params, step), (x[:1000], y[:1000]), epochs=1,
                batch_size=198, mesh=mesh)
        except ValueError as e:
            results["batch_error"] = str(e)
        # Programs are cached on the step per mesh: one set for one device, one for the
        # mesh, and a second fit on the mesh compiles nothing.
        data, sizes = (x[:1000], y[:1000]), []
        for on in (None, mesh, mesh):
            fit(step, init_state(params, step), data, epochs=1, batch_size=200,
                key=jax.random.key(1), mode="fused", mesh=on)
            sizes.append({str(k): f.cache_size() for k, f in step._programs.items()
                          if k in ("fused", ("fused", mesh))})
        results["program_cache"] = sizes
        if args.checkpoints:
            step, state, _, _ = run("mlp", "fused", mesh, 1000, 2)
            with Checkpoints(args.checkpoints) as checkpoints:
                checkpoints.save(state)
            w = jax.device_put(np.arange(4096, dtype=np.float32).reshape(64, 64),
                               parallel.batch_sharded(mesh))
            save(os.path.join(args.checkpoints, "sharded"), {"w": w})
            results["shards"] = len(w.addressable_shards)
            np.savez(os.path.join(args.checkpoints, "params.npz"),
                     *[np.asarray(a) for a in jax.tree.leaves(state.params)])

if args.task == "lost":
    apply, params = mnist_mlp.model(jax.random.key(0))
    step = mnist_mlp.make(apply)
    data, epochs = (x[:1000], y[:1000]), 6
    checkpoints = Checkpoints(args.checkpoints)
    template = parallel.replicate(init_state(params, step), mesh)
    state = checkpoints.restore(template) if checkpoints.latest_step() else template
    results["resumed_from"] = int(state.step)

    def on_epoch(epoch, state):
        logs = checkpoints(epoch, state)
        if args.die_at is not None and epoch == args.die_at and jax.process_index() == 1:
            print(f"process 1: killing myself after epoch {epoch}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)  # a run slow enough to be killed in the middle
        return logs

    try:
        state, history = fit(step, state, data, epochs=epochs - int(state.step) // 5,
                             batch_size=200, key=jax.random.key(1), mode="fused", mesh=mesh,
                             on_epoch=on_epoch)
    except parallel.LostProcess as e:  # what the command line does: one line, exit 1
        print(f"error: {e}", file=sys.stderr, flush=True)
        os._exit(1)  # skip jax.distributed's shutdown barrier, which would abort
    results["loss"] = history.loss.tolist()
    if jax.process_index() == 0:  # the uninterrupted one-device run, for comparison
        one = fit(step, init_state(params, step), data, epochs=epochs, batch_size=200,
                  key=jax.random.key(1), mode="fused")[1]
        results["one"] = one.loss.tolist()
    checkpoints.close()

if jax.process_index() == 0:
    with open(args.out, "w") as f:
        json.dump(results, f)
print(f"process {jax.process_index()}: done", flush=True)
sys.stdout.flush()
