"""MNIST models and experiments on the embedded digits."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments import lenet, mnist_mlp
from jaxbasics import nn
from jaxbasics.data import load
from jaxbasics.models import MLP, apply_lenet, apply_mlp, init_lenet, init_mlp
from jaxbasics.train import init_state


def test_mlp_init_and_shapes():
    params = init_mlp(jax.random.key(0), init="kaiming")
    assert [p["w"].shape for p in params] == [(200, 784), (200, 200), (10, 200)]
    assert abs(float(params[0]["w"].std()) - np.sqrt(2 / 784)) < 0.002
    assert abs(float(init_mlp(jax.random.key(0), init="normal")[0]["w"].std()) - 1) < 0.01
    logits = apply_mlp(params, jnp.ones((3, 28, 28, 1)), relu_logits=True)
    assert logits.shape == (3, 10) and (logits >= 0).all()
    with pytest.raises(ValueError, match="init must be one of"):
        init_mlp(jax.random.key(0), init="xavier")


def test_lenet_matches_torch_layout():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    params = init_lenet(jax.random.key(1))
    x = np.random.default_rng(0).standard_normal((2, 28, 28, 1)).astype(np.float32)
    from jaxbasics.conv import flax_to_torch_kernel
    t = {k: {n: torch.from_numpy(np.array(flax_to_torch_kernel(v) if v.ndim == 4 else v))
             for n, v in layer.items()} for k, layer in params.items()}
    h = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    h = F.max_pool2d(F.relu(F.conv2d(h, t["conv1"]["w"], t["conv1"]["b"])), 2, 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, t["conv2"]["w"], t["conv2"]["b"])), 2, 2)
    h = h.reshape(-1, 256)
    h = F.relu(h @ t["fc1"]["w"].T + t["fc1"]["b"])
    h = F.relu(h @ t["fc2"]["w"].T + t["fc2"]["b"])
    expected = (h @ t["fc3"]["w"].T + t["fc3"]["b"]).numpy()
    for impl in ("xla", "slices"):
        np.testing.assert_allclose(np.asarray(apply_lenet(params, jnp.asarray(x), impl=impl)),
                                   expected, rtol=1e-4, atol=1e-5)


def test_nnx_mlp_matches_raw_with_same_weights():
    model = MLP(rngs=nnx.Rngs(0))
    apply, params = nn.functional(model)
    raw = [{"w": layer.kernel[...].T, "b": layer.bias[...]} for layer in model.layers]
    x = jnp.asarray(load("mnist", "test").images[:5])
    np.testing.assert_allclose(apply(params, x), apply_mlp(raw, x),
                               rtol=1e-5, atol=1e-5)
    assert abs(float(model.layers[0].kernel[...].std()) - np.sqrt(2 / 784)) < 0.002


def test_mlp_modes_agree_on_a_few_steps():
    ds = load("mnist", "train")
    data = jax.device_put((ds.images[:600], ds.labels[:600]))
    apply, params = mnist_mlp.model(jax.random.key(0))
    step = mnist_mlp.make(apply)
    losses = {m: mnist_mlp.train(step, params, jax.random.key(1), data, epochs=1, mode=m)[1].loss
              for m in ("eager", "jit", "fused")}
    assert len(losses["jit"]) == 3
    np.testing.assert_allclose(losses["eager"], losses["jit"], rtol=1e-5)
    np.testing.assert_allclose(losses["fused"], losses["jit"], rtol=1e-5)


def test_mnist_mlp_quick_learns(tmp_path, capsys):
    m = mnist_mlp.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert m["ok"] and m["result"]["test_accuracy"] >= 0.6
    assert "Train Epoch: 0 [0/1000 (0%)]\tLoss:" in out
    assert "Test set: Average loss:" in out and "/500 (" in out
    assert m["data_source"].startswith("embedded")
    assert json.loads((tmp_path / "metrics.json").read_text())["figures"]
    assert (tmp_path / "loss.png").exists() and (tmp_path / "predictions.png").exists()


def test_mnist_mlp_module_matches_raw_and_seed_init_stalls(tmp_path):
    def run(*flags):
        return mnist_mlp.main(["--quick", *flags, "--out", str(tmp_path)])["result"]
    raw, module = run(), run("--module")
    assert module["module"] and not raw["module"]
    # Same network, same hyper-parameters, different random draws: accuracy within noise.
    assert abs(module["test_accuracy"] - raw["test_accuracy"]) < 0.08
    # The seed as written with torch.randn weights: every relu'd logit is dead, the loss
    # sits at ln 10 (uniform softmax) and never moves; Kaiming init learns. Whether a batch
    # of the short quick run revives a logit depends on the draws (seeds 0 and 3 stall, 1
    # and 2 do not; the default 3,000 steps stall on seeds 0-3), so this is seed 0's.
    stalled = run("--no-kaiming", "--relu-logits", "--seed", "0")
    learning = run("--relu-logits")
    assert stalled["final_train_loss"] == pytest.approx(np.log(10), abs=1e-4)
    assert learning["final_train_loss"] < 1.6


def test_lenet_quick_learns(tmp_path, capsys):  # 2 epochs: 30 steps
    m = lenet.main(["--quick", "--epochs", "2", "--out", str(tmp_path)])
    assert m["result"]["steps"] == 30 and m["result"]["test_loss"] < 2.3
    out = capsys.readouterr().out  # seed 002's lines
    assert "loss: " in out and "[    0/ 1000]" in out and "Test Error: \n Accuracy: " in out


def test_mnist_first_quick(tmp_path, capsys):
    from experiments import mnist_first
    m = mnist_first.main(["--quick", "--out", str(tmp_path)])
    assert m["ok"] and m["result"]["steps"] == 21
    assert "test acc:" in capsys.readouterr().out


def test_logistic_regression_quick(tmp_path):
    from experiments import logistic_regression
    m = logistic_regression.main(["--quick", "--out", str(tmp_path)])
    assert m["ok"] and len(m["figures"]) == 4
    assert all(v["accuracy"] >= 0.97 for v in m["result"].values())


def test_per_example_predictions_match_the_model_and_the_accuracy():
    # The prediction figure reads them from the evaluation's program.
    ds = load("mnist", "test")
    test = (ds.images[:300], ds.labels[:300])
    apply, params = mnist_mlp.model(jax.random.key(0))
    step = mnist_mlp.make(apply)
    state = init_state(params, step)
    values = step.evaluate(state, test, 128, per_example=True)
    expected = np.argmax(np.asarray(jax.jit(apply)(params, jnp.asarray(test[0]))), -1)
    np.testing.assert_array_equal(values["prediction"], expected)
    assert step.evaluate(state, test, 128)["accuracy"] == pytest.approx(
        np.mean(expected == test[1]))


def test_mnist_mlp_trains_with_adam_from_the_command_line_flag(tmp_path):
    """--optimizer adam: recorded in the result, judged as a variant (not the seed's run)."""
    from experiments import mnist_mlp
    m = mnist_mlp.main(["--quick", "--optimizer", "adam", "--lr", "1e-3", "--out", str(tmp_path)])
    assert m["result"]["optimizer"] == "adam" and m["ok"]
    assert m["result"]["test_accuracy"] > 0.8  # 2 quick epochs of Adam on 4,000 digits
