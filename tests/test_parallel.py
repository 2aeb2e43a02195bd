"""Data parallel, several processes, sharded checkpoints, a lost process.

Each configuration runs in subprocesses (``tests/_parallel_worker.py``) so this process
keeps its one CPU device: one process with 4 simulated CPU devices, and 2 processes x 2
devices joined by ``jax.distributed`` on 127.0.0.1 (gloo collectives). Every subprocess has
a time limit and is killed in ``finally``.

Tolerance: the mesh run gathers exactly the one-device batches (same shuffle), so the only
difference is the order of the sums in the batch mean and the gradient all-reduce (each
device sums its slice, then the slices are summed). float32 rounding of a different
summation order over a few hundred terms is ~1e-7 relative per step; over ten SGD steps it
stays below 1e-5 (measured: 1.2e-7 MLP, 2.4e-7 LeNet), so losses are compared with
rtol=atol=1e-5, and accuracies (counts over 500 examples) must be equal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 240  # seconds per configuration; the loaded CI machine needs ~30-120
STOP = 30  # seconds for the survivor of a lost process to stop (heartbeat timeout 5 s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
           "JAXBASICS_COMPILATION_CACHE": "0"}
    return subprocess.Popen([sys.executable, "-m", "tests._parallel_worker", *argv], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(procs: list[subprocess.Popen], limit: float = LIMIT) -> list[tuple[int, str]]:
    """Wait for all (killing them all at the limit); [(returncode, output)]."""
    deadline = time.monotonic() + limit
    try:
        out = []
        for p in procs:
            text, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out.append((p.returncode, text))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def pair(task: str, out: Path, *extra: str) -> list[subprocess.Popen]:
    coordinator = f"127.0.0.1:{free_port()}"
    return [start(task, "--devices", "2", "--out", str(out), "--coordinator", coordinator,
                  "--processes", "2", "--id", str(i), *extra) for i in range(2)]


def check_curves(results: dict, devices: int, processes: int) -> None:
    assert (results["devices"], results["processes"]) == (devices, processes)
    for name in ("mlp/jit", "mlp/fused", "lenet/fused"):
        one, mesh = results[name]["one"], results[name]["mesh"]
        assert len(one["loss"]) == len(mesh["loss"]) >= 8, name
        np.testing.assert_allclose(mesh["loss"], one["loss"], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(mesh["eval"]["loss"], one["eval"]["loss"], rtol=1e-5,
                                   err_msg=name)
        assert mesh["eval"]["accuracy"] == one["eval"]["accuracy"], name


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("four")
    (code, text), = finish([start("curves", "--devices", "4", "--out", str(tmp / "r.json"),
                                  "--checkpoints", str(tmp / "ckpt"))])
    assert code == 0, text[-3000:]
    return json.loads((tmp / "r.json").read_text()), tmp / "ckpt"


def test_four_devices_reproduce_one_device(four_devices):
    check_curves(four_devices[0], devices=4, processes=1)


def test_batch_that_does_not_divide_is_a_clear_error(four_devices):
    message = four_devices[0]["batch_error"]
    assert "batch_size (198)" in message and "number of devices (4)" in message


def test_programs_are_cached_per_mesh(four_devices):
    one, mesh, again = four_devices[0]["program_cache"]
    assert list(one.values()) == [1] and len(mesh) == 2 and set(mesh.values()) == {1}
    assert again == mesh  # the second fit on the mesh compiled nothing


def test_checkpoint_saved_on_four_devices_restores_on_one(four_devices):
    from experiments import mnist_mlp
    from jaxbasics.checkpoint import Checkpoints, restore
    from jaxbasics.train import init_state
    results, directory = four_devices
    apply, params = mnist_mlp.model(jax.random.key(0))
    step = mnist_mlp.make(apply)
    with Checkpoints(directory) as checkpoints:
        state = checkpoints.restore(init_state(params, step))
    assert len(jax.tree.leaves(state.params)[0].devices()) == 1 and int(state.step) == 10
    with np.load(directory / "params.npz") as f:  # what the 4-device run held
        leaves = [f[f"arr_{i}"] for i in range(len(f.files))]
    saved = jax.tree.unflatten(jax.tree.structure(state.params), leaves)
    for got, want in zip(jax.tree.leaves(state.params), leaves):
        np.testing.assert_array_equal(np.asarray(got), want)
    x = np.linspace(0, 1, 3 * 28 * 28, dtype=np.float32).reshape(3, 28, 28, 1)
    np.testing.assert_array_equal(np.asarray(jax.jit(apply)(state.params, x)),
                                  np.asarray(jax.jit(apply)(saved, x)))  # same outputs
    # A truly sharded array (4 shards, one per device) comes back whole on one device.
    assert results["shards"] == 4
    w = restore(directory / "sharded", {"w": jax.numpy.zeros((64, 64))})["w"]
    np.testing.assert_array_equal(np.asarray(w), np.arange(4096, dtype=np.float32).reshape(64, 64))


def test_two_processes_reproduce_one_device(tmp_path):
    outputs = finish(pair("curves", tmp_path / "r.json"))
    for code, text in outputs:
        assert code == 0, text[-3000:]
    check_curves(json.loads((tmp_path / "r.json").read_text()), devices=4, processes=2)


def test_lost_process_stops_the_other_and_the_run_resumes(tmp_path):
    ckpt = tmp_path / "ckpt"
    procs = pair("lost", tmp_path / "r.json", "--checkpoints", str(ckpt), "--die-at", "2")
    try:
        procs[1].wait(timeout=LIMIT)  # it kills itself after saving epoch 2 (step 15)
        dead = time.monotonic()
        procs[0].wait(timeout=STOP)
        stopped = time.monotonic() - dead
    finally:
        (code0, text0), (code1, text1) = finish(procs, limit=5)
    assert code1 == -9, text1[-2000:]
    assert code0 == 1, text0[-2000:]  # not a hang, not an abort: a clear error
    errors = [line for line in text0.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "another process of this run stopped" in errors[0], text0[-2000:]
    assert stopped < STOP
    assert max(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) == 15
    outputs = finish(pair("lost", tmp_path / "r.json", "--checkpoints", str(ckpt)))
    for code, text in outputs:
        assert code == 0, text[-3000:]
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["resumed_from"] == 15
    np.testing.assert_allclose(results["loss"], results["one"][15:], rtol=1e-5, atol=1e-5)
