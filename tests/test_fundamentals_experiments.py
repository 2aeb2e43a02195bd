"""Fundamentals chapter: each experiment reproduces its reference in --quick mode; optimizer
trajectories against PyTorch's."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import (CATALOGUE, activations, autograd_basics, backprop, linreg_manual_grad,
                         loss_functions, optimizers, tensor_basics)
from jaxbasics import optim
from jaxbasics.train import fit, init_state, make_step


def _run(module, tmp_path):
    metrics = module.main(["--quick", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    for figure in metrics["figures"]:
        assert (tmp_path / figure.split("/")[-1]).stat().st_size > 10_000
    assert metrics["ok"]
    return metrics["result"]


def test_catalogue_lists_the_chapter():
    for name in ("tensor_basics", "autograd_basics", "activations", "loss_functions", "linreg_manual_grad",
                 "backprop", "optimizers"):
        assert name in CATALOGUE


def test_tensor_basics(tmp_path):
    r = _run(tensor_basics, tmp_path)
    assert r["broadcast (4,32,14,14)+(32,14)"] == "error"
    assert r["y"] == [0.0, 5.0, 0.0] and r["x after y = x.at[1].set(5)"] == [0.0, 0.0, 0.0]
    assert r["a.reshape(4, 784*3).shape"] == [4, 2352]


def test_autograd_basics(tmp_path):
    r = _run(autograd_basics, tmp_path)
    assert r["dmse/dw"] == 2.0 and r["accumulated grad at 3"] == 11.0
    assert r["bce_grad_closed_form_gap"] < 1e-6


def test_activations(tmp_path):
    r = _run(activations, tmp_path)
    assert max(r["derivative_max_gap"].values()) < 1e-5
    np.testing.assert_allclose(r["softmax([1,2,3])"], [0.09, 0.2447, 0.6652], atol=1e-4)


def test_loss_functions(tmp_path):
    r = _run(loss_functions, tmp_path)
    assert abs(r["entropy_bits"]["[.1,.1,.1,.7]"] - 1.3568) < 1e-3
    assert abs(r["cross_entropy"] - r["nll(log_softmax)"]) < 1e-6


def test_linreg_manual_grad(tmp_path):
    r = _run(linreg_manual_grad, tmp_path)
    assert r["gradient_relative_gap"] < 1e-5 and r["parameter_gap"] < 1e-4
    assert abs(r["w"] - 1.5) < 0.1 and r["final_error"] < r["initial_error"] / 20


def test_hand_gradient_equals_jax_grad_at_random_points():
    pts = linreg_manual_grad.points(jax.random.key(3))
    for b, w in ((0.3, -1.0), (5.0, 2.0)):
        hand = jnp.stack(linreg_manual_grad.hand_gradient(b, w, pts))
        auto = jnp.stack(jax.grad(linreg_manual_grad.compute_error, argnums=(0, 1))(b, w, pts))
        np.testing.assert_allclose(hand, auto, rtol=1e-5)


def test_backprop(tmp_path):
    r = _run(backprop, tmp_path)
    assert max(r["gradient_relative_gap"].values()) < 1e-5
    assert r["final_loss"] < r["initial_loss"] / 2


def test_backprop_manual_grad_matches_at_another_seed():
    params = backprop.init(jax.random.key(7), d=3, h=5, c=2)
    x = jax.random.normal(jax.random.key(8), (9, 3))
    y = jnp.arange(9) % 2
    auto, hand = jax.jit(lambda p, b: (jax.grad(backprop.loss_fn)(p, b),
                                       backprop.manual_grad(p, b)))(params, (x, y))
    for k in params:
        np.testing.assert_allclose(hand[k], auto[k], rtol=1e-4, atol=1e-7)


def test_optimizers(tmp_path):
    r = _run(optimizers, tmp_path)
    assert r["himmelblau"]["ranking"][0] == "lbfgs"
    np.testing.assert_allclose(r["himmelblau"]["lbfgs_point"], [3.0, 2.0], atol=1e-3)
    assert r["linreg"]["excess_loss"]["lbfgs"] < 1e-6
    assert set(r["linreg"]["ranking"]) == set(optimizers.NAMES)


def test_rank_breaks_ties_by_speed():
    curves = {"a": np.array([1.0, 1e-3, 1e-8]), "b": np.array([1.0, 1e-8, 1e-9]),
              "c": np.array([1.0, 0.5, 0.1])}
    finals = {k: float(v[-1]) for k, v in curves.items()}
    assert optimizers.rank(finals, curves) == ["b", "a", "c"]


# PyTorch trajectories: 100 steps of each optimizer on the same problem agree to 1e-5.

TORCH_CASES = [
    ("momentum", {"momentum": 0.9}, "SGD", {"momentum": 0.9}, 0.01),
    ("rmsprop", {}, "RMSprop", {}, 0.01),
    ("adam", {}, "Adam", {}, 0.01),
    ("adamw", {}, "AdamW", {}, 0.01),
]


@pytest.mark.parametrize("name, ours, theirs, kw, lr", TORCH_CASES)
def test_optimizer_trajectory_matches_pytorch(name, ours, theirs, kw, lr):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3)[:, None]
    w0 = rng.normal(size=(3, 1)).astype(np.float32)

    def objective(p, batch):
        xb, yb = batch
        return jnp.mean((xb @ p["w"] + p["b"] - yb) ** 2)

    step = make_step(objective, optim.make(name, lr, **ours))
    state, history = fit(step, init_state({"w": jnp.asarray(w0), "b": jnp.zeros(1)}, step),
                         (jnp.asarray(x), jnp.asarray(y)), epochs=100, mode="fused")
    w = torch.tensor(w0, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = getattr(torch.optim, theirs)([w, b], lr=lr, **kw)
    tl = []
    for _ in range(100):
        opt.zero_grad()
        loss = ((torch.tensor(x) @ w + b - torch.tensor(y)) ** 2).mean()
        tl.append(loss.item())
        loss.backward()
        opt.step()
    np.testing.assert_allclose(state.params["w"], w.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(state.params["b"], b.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(history.loss, tl, rtol=1e-4)
    assert history.loss[-1] < history.loss[0]
