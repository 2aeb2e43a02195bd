"""TensorBoard logging: the logger's fit hooks, the learning-rate finder, the visualization
experiment, --tensorboard on a classification experiment, and a real tensorboard server
read back over HTTP on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import mnist_first, visualization
from jaxbasics import losses
from jaxbasics.tensorboard import TensorBoard, read_events
from jaxbasics.train import learning_rate
from jaxbasics.train import fit, init_state, make_step
from _helpers import run_quick


def _problem(n=64):
    x = jax.random.normal(jax.random.key(0), (n, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    return x, y


def _objective(params, batch):
    x, y = batch
    return losses.mse(x @ params["w"] + params["b"], y)


def test_learning_rate_finder():
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    assert learning_rate(optax.sgd(0.1).init(params)) is None
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=0.9)
    assert learning_rate(injected.init(params)) == pytest.approx(0.05)
    chained = optax.chain(optax.clip_by_global_norm(1.0),
                          optax.inject_hyperparams(optax.adam)(learning_rate=3e-3))
    assert learning_rate(chained.init(params)) == pytest.approx(3e-3)


@pytest.mark.parametrize("mode", ["fused", "jit"])
def test_hooks_write_what_fit_logged(tmp_path, mode):
    """Training loss at every logging step (replayed from the fused history), the
    on_epoch results and the schedule's rate from the optimizer state, at the right steps."""
    data = _problem()
    schedule = optax.linear_schedule(0.1, 0.01, 16)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    step = make_step(_objective, tx)
    state = init_state({"w": jnp.zeros(3), "b": jnp.zeros(())}, step)
    seen = []
    with TensorBoard(tmp_path / "run") as tb:
        state, history = fit(step, state, data, epochs=4, batch_size=16,
                             key=jax.random.key(1), mode=mode, log_every=2,
                             **tb.hooks(on_log=seen.append,
                                        on_epoch=lambda e, s: {"val": 10.0 * e + 0.5,
                                                               "note": "text is skipped"}))
    runs = read_events(tmp_path / "run")
    assert list(runs) == ["."]
    tags = runs["."]
    steps = [s for s, _ in tags["train/loss"]]
    assert steps == [0, 2, 4, 6, 8, 10, 12, 14] == [e.step for e in seen]  # 4 per epoch, every 2nd batch
    np.testing.assert_allclose([v for _, v in tags["train/loss"]], history.loss[steps], rtol=1e-6)
    assert tags["eval/val"] == [(4, 0.5), (8, 10.5), (12, 20.5), (16, 30.5)]
    assert "eval/note" not in tags
    # inject_hyperparams holds the rate of the last update: schedule(step - 1).
    np.testing.assert_allclose([v for _, v in tags["train/learning_rate"]],
                               [schedule(s - 1) for s in (4, 8, 12, 16)], rtol=1e-6)


def test_writers_validate_and_read_back(tmp_path):
    with TensorBoard(tmp_path, learning_rate=0.25) as tb:
        tb.scalar("a", np.float32(1.5), 3)
        tb.scalars("pair", {"x": 1.0, "y": jnp.array(2.0)}, 5)
        tb.images("digits", np.random.default_rng(0).normal(size=(4, 28, 28, 1)), 5)
        tb.text("pred", "[1 2 3]", 5)
        with pytest.raises(TypeError, match="'a'"):
            tb.scalar("a", "x", 1)
        with pytest.raises(ValueError, match="images must be"):
            tb.images("bad", np.zeros((28, 28)), 1)
        on_epoch = tb.on_epoch()
        step = make_step(lambda p, b: jnp.sum(p["w"]), optax.sgd(0.25))
        on_epoch(0, init_state({"w": jnp.zeros(1)}, step)._replace(step=jnp.asarray(7)))
    with pytest.raises(TypeError, match="learning_rate"):
        TensorBoard(tmp_path / "x", learning_rate="fast")
    runs = read_events(tmp_path)
    assert runs["."]["a"] == [(3, 1.5)]
    assert runs["pair/x"]["pair"] == [(5, 1.0)] and runs["pair/y"]["pair"] == [(5, 2.0)]
    assert runs["."]["digits"][0][0] == 5 and runs["."]["digits"][0][1][0] == "image"
    assert runs["."]["pred/text_summary"] == [(5, "[1 2 3]")]
    assert runs["."]["train/learning_rate"] == [(7, 0.25)]  # the given constant


def test_visualization_quick(tmp_path, capsys):
    m = run_quick(visualization, tmp_path)
    assert m["ok"], m["result"]
    assert m["result"]["read back"] == {"single curve": True, "multi-curve": True,
                                        "images": True, "learning rate": True}
    assert m["result"]["views"]["image grids"] == 3
    out = capsys.readouterr().out
    assert f"tensorboard --logdir {tmp_path / 'tensorboard'}" in out


def test_mnist_first_tensorboard_flag(tmp_path, capsys):
    m = run_quick(mnist_first, tmp_path / "out", "--tensorboard", str(tmp_path / "tb"))
    tags = read_events(tmp_path / "tb" / "mnist_first")["."]
    # 3 quick epochs of 7 batches, the seed's log every 10 batches: batch 0 of each epoch.
    assert [s for s, _ in tags["train/loss"]] == [0, 7, 14]
    assert [s for s, _ in tags["eval/accuracy"]] == [7, 14, 21]
    assert tags["eval/accuracy"][-1][1] == pytest.approx(m["result"]["test_accuracy"])
    assert [v for _, v in tags["train/learning_rate"]] == pytest.approx([0.01] * 3)
    assert [s for s, _ in tags["figures/predictions"]] == [21]
    assert "tensorboard --logdir" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def test_tensorboard_server_reads_back_the_scalars(tmp_path):
    """A real ``tensorboard`` on 127.0.0.1 serves the logged values at the logged steps."""
    pytest.importorskip("tensorboard")
    logged = {step: 1.0 / (step + 1) for step in (0, 5, 10, 15)}
    with TensorBoard(tmp_path / "demo") as tb:
        for step, value in logged.items():
            tb.scalar("train_loss", value, step)
        tb.scalars("test", {"loss": 0.5, "acc.": 0.875}, 15)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false",
         "--reload_interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/data"
    try:
        deadline, tags = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"tensorboard exited: {server.stdout.read().decode()[-2000:]}")
            try:
                tags = _get(f"{base}/plugin/scalars/tags")
                if {"demo", "demo/test/loss", "demo/test/acc."} <= set(tags):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"tensorboard did not serve the runs within 90 s; tags: {tags}")
        assert "train_loss" in tags["demo"]

        def scalars(run, tag):
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            return [(step, value) for _, step, value in
                    _get(f"{base}/plugin/scalars/scalars?{query}")]

        got = scalars("demo", "train_loss")
        assert [s for s, _ in got] == list(logged)
        np.testing.assert_allclose([v for _, v in got], list(logged.values()), rtol=1e-6)
        assert scalars("demo/test/acc.", "test") == [(15, 0.875)]
        assert scalars("demo/test/loss", "test") == [(15, 0.5)]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()
