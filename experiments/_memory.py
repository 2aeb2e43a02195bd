"""Peak memory (RSS) of one 60,000-image MNIST MLP epoch, JAX against PyTorch, by stage.

    python -m experiments._memory --data-dir DIR [--mode fused] [--no-torch]

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

# The training files the stages read (gzipped or not), in --data-dir itself.
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
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


def _idx_file(data_dir: str, stem: str) -> str | None:
    """``data_dir/stem.gz`` or ``data_dir/stem``, whichever is a file (the .gz first, as
    ``jaxbasics.data`` looks), else None."""
    for name in (f"{stem}.gz", stem):
        if os.path.isfile(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    return None


def _read(path: str) -> bytes:
    import gzip
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        return f.read()


def _images_numpy(data_dir: str):
    """The same normalised training set read with NumPy alone (``jaxbasics.data`` imports
    JAX, which a PyTorch process must not pay for)."""
    import numpy as np
    images_file, labels_file = (_idx_file(data_dir, stem) for stem in TRAIN_FILES)
    images = np.frombuffer(_read(images_file), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    labels = np.frombuffer(_read(labels_file), np.uint8, offset=8).astype(np.int64)
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


class StageFailed(RuntimeError):
    """A stage's process ended in an error; the message ends with its last line."""


def run(side: str, stage: str, data_dir: str, mode: str) -> tuple[float, float]:
    """(peak, current) RSS in MiB of a fresh process running ``side`` up to ``stage``.
    Raises :class:`StageFailed` if that process fails."""
    code = ("import json, sys; from experiments import _memory as m; "
            f"print(json.dumps(m.stage_{side}(*json.loads(sys.argv[1]))))")
    args = [stage, data_dir] + ([mode] if side == "jax" else [])
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise StageFailed(f"the {side} stage {stage!r} failed: {last}")
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def mnist_dir(text: str) -> str:
    """argparse type: a directory holding MNIST's training IDX files (``--data-dir``),
    checked here: this process imports no JAX (nor ``experiments._cli``)."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    missing = [f"{stem}[.gz]" for stem in TRAIN_FILES if _idx_file(text, stem) is None]
    wanted = " and ".join(f"{stem}[.gz]" for stem in TRAIN_FILES)
    if len(missing) == len(TRAIN_FILES):
        raise argparse.ArgumentTypeError(f"{text!r} holds no MNIST IDX files: looked for "
                                         f"{wanted}")
    if missing:
        raise argparse.ArgumentTypeError(f"{text!r} lacks {', '.join(missing)}: the MNIST IDX "
                                         f"files needed are {wanted}")
    return text


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="_memory.py", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=mnist_dir, required=True, metavar="DIR",
                   help="required: a directory holding MNIST's training IDX files, "
                        + " and ".join(f"{stem}.gz" for stem in TRAIN_FILES)
                        + " (or uncompressed)")
    p.add_argument("--mode", default="fused", choices=("jit", "fused"),
                   help="how the JAX epoch runs: jit, one compiled step per batch; fused, "
                        "the whole epoch in one compiled scan (default %(default)s)")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch rows")
    args = p.parse_args(argv)
    rows = {}
    sides = [("jax", JAX_STAGES)] + ([] if args.no_torch else [("torch", TORCH_STAGES)])
    for side, stages in sides:
        previous = None
        for stage in stages:
            try:
                peak, current = run(side, stage, args.data_dir, args.mode)
            except StageFailed as e:
                p.exit(1, f"{p.prog}: error: {e}\n")
            rows[f"{side}: {stage}"] = {"peak_mib": peak, "current_mib": current}
            step = "" if previous is None else f" ({peak - previous:+4.0f})"
            print(f"{side:5s} {stage:31s} peak {peak:5.0f} MiB{step}, at the end "
                  f"{current:5.0f} MiB", flush=True)
            previous = peak
    return rows


if __name__ == "__main__":
    main()
