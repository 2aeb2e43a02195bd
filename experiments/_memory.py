"""Peak memory (RSS) of one 60,000-image MNIST MLP epoch, JAX against PyTorch, by stage.

    python -m experiments._memory --data-dir DIR [--mode fused]

Each stage runs in a fresh process, which does everything the earlier stages did and
one thing more, then reports its peak resident set (``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``): the differences between consecutive rows say what each step added to the
peak. Stages: the interpreter with NumPy; ``import jax`` (or ``torch``); the JAX CPU
client started (one tiny computation); the training images read and normalised on the
host (NumPy, (60000, 28, 28, 1) float32, 188 MB); put on the device (``jax.device_put``)
with the host copy kept or dropped; one training epoch (batch 200, the seed's SGD) in
``--mode``; the same with the memory XLA's compiler frees given back to the system after
each compilation (``released``: :func:`jaxbasics.memory.release_after_compiles`, what the
command line does). The PyTorch rows read the same images with NumPy alone (no JAX in that
process) and run the project's original loop (``experiments._torch_originals.mnist_mlp``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

JAX_STAGES = ["numpy", "import", "client", "host data", "device data (host kept)",
              "device data (host dropped)", "epoch (host kept)", "epoch (host dropped)",
              "epoch (host dropped, released)"]
TORCH_STAGES = ["numpy", "import", "host data", "epoch"]


def _peak_mib() -> tuple[float, float]:
    """(peak, current) resident set of this process in MiB."""
    import os
    import resource
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, current  # KiB


def _images(data_dir: str):
    from jaxbasics.data import load
    ds = load("mnist", "train", "idx", data_dir=data_dir)
    return ds.images, ds.labels


def stage_jax(stage: str, data_dir: str, mode: str) -> tuple[float, float]:
    """Run the JAX side up to ``stage``; the process's (peak, current) RSS in MiB."""
    import numpy as np
    if stage == "numpy":
        return _peak_mib()
    import jax
    if stage == "import":
        return _peak_mib()
    jax.block_until_ready(jax.numpy.zeros(1) + 1)
    if stage == "client":
        return _peak_mib()
    host = _images(data_dir)
    if stage == "host data":
        return _peak_mib()
    data = jax.device_put(host)
    jax.block_until_ready(data)
    if "dropped" in stage:
        del host
    if stage.startswith("device data"):
        return _peak_mib()
    from experiments import _cli, mnist_mlp
    from jaxbasics import memory
    from jaxbasics.train import fit, init_state
    if "released" in stage:
        memory.release_after_compiles()  # (does nothing without glibc)
    k_init, k_shuffle = _cli.keys(0, 2)
    apply, params = mnist_mlp.model(k_init)
    step = mnist_mlp.make(apply)
    _, history = fit(step, init_state(params, step), data, epochs=1,
                     batch_size=mnist_mlp.BATCH_SIZE, key=k_shuffle, mode=mode)
    assert np.isfinite(history.loss[-1])
    return _peak_mib()


def _images_numpy(data_dir: str):
    """The same normalised training set read with NumPy alone (``jaxbasics.data`` imports
    JAX, which a PyTorch process must not pay for)."""
    import gzip
    from pathlib import Path

    import numpy as np
    with gzip.open(Path(data_dir) / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(Path(data_dir) / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    x = images.astype(np.float32)
    x /= 255.0
    x -= 0.1307
    x /= 0.3081
    return x, labels


def stage_torch(stage: str, data_dir: str) -> tuple[float, float]:
    """Run the PyTorch side up to ``stage``; the process's (peak, current) RSS in MiB."""
    import sys

    import numpy  # noqa: F401  (the stage's baseline)
    if stage == "numpy":
        return _peak_mib()
    import torch
    if stage == "import":
        return _peak_mib()
    x, y = _images_numpy(data_dir)
    data = torch.from_numpy(x), torch.from_numpy(y)
    if stage == "host data":
        return _peak_mib()
    from experiments import _torch_originals
    _torch_originals.mnist_mlp(1, data=data)
    assert "jax" not in sys.modules
    return _peak_mib()


def run(side: str, stage: str, data_dir: str, mode: str) -> tuple[float, float]:
    """(peak, current) RSS in MiB of a fresh process running ``side`` up to ``stage``."""
    code = ("import json, sys; from experiments import _memory as m; "
            f"print(json.dumps(m.stage_{side}(*json.loads(sys.argv[1]))))")
    args = [stage, data_dir] + ([mode] if side == "jax" else [])
    out = subprocess.run([sys.executable, "-c", code, json.dumps(args)], check=True,
                         capture_output=True, text=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="the four MNIST IDX files")
    p.add_argument("--mode", default="fused", choices=("jit", "fused"))
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    if not os.path.isdir(args.data_dir):  # checked here: this process imports no JAX
        p.error(f"argument --data-dir: no such directory: {args.data_dir!r}")
    rows = {}
    sides = [("jax", JAX_STAGES)] + ([] if args.no_torch else [("torch", TORCH_STAGES)])
    for side, stages in sides:
        previous = None
        for stage in stages:
            peak, current = run(side, stage, args.data_dir, args.mode)
            rows[f"{side}: {stage}"] = {"peak_mib": peak, "current_mib": current}
            step = "" if previous is None else f" ({peak - previous:+4.0f})"
            print(f"{side:5s} {stage:31s} peak {peak:5.0f} MiB{step}, at the end "
                  f"{current:5.0f} MiB", flush=True)
            previous = peak
    return rows


if __name__ == "__main__":
    main()
