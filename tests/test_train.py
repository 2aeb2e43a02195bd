"""The engine: modes agree, seeds reproduce, errors are clear."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxbasics import losses, optim
from jaxbasics.data import epoch_indices, linear_data, synthetic_data
from jaxbasics.models import apply_linear, init_linear
from jaxbasics.train import MODES, NonFiniteLoss, evaluate, fit, init_state, make_step


def mse_objective(params, batch):
    x, y = batch
    return losses.mse(apply_linear(params, x), y)


SGD = optim.make("sgd", 0.05, momentum=0.9)
STEP = make_step(mse_objective, SGD)


def _problem(seed=0):
    kd, kp = jax.random.split(jax.random.key(seed))
    data = synthetic_data(kd, n=100)
    return init_state(init_linear(kp, 2, 1), SGD), data


@pytest.mark.parametrize("batch_size", [None, 10])
def test_modes_agree(batch_size):
    state, data = _problem()
    results = {}
    for mode in MODES:
        final, history = fit(STEP, state, data, epochs=4, batch_size=batch_size,
                             key=jax.random.key(1), mode=mode)
        results[mode] = (final, history)
    ref_params, ref_hist = results["eager"][0].params, results["eager"][1].loss
    for mode in ("jit", "fused"):
        final, history = results[mode]
        np.testing.assert_allclose(history.loss, ref_hist, rtol=1e-5, atol=1e-6)
        for a, b in zip(jax.tree.leaves(final.params), jax.tree.leaves(ref_params)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert int(final.step) == (4 if batch_size is None else 40)


def test_same_seed_same_result_and_different_seed_differs():
    state, data = _problem()
    runs = [fit(STEP, state, data, epochs=2, batch_size=10, key=jax.random.key(k),
                mode="fused")[1].loss for k in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_full_batch_matches_closed_form_gradient_descent():
    # One linear unit, MSE, plain GD: the update is w -= lr * (2/n) X^T (Xw + b - y).
    x, y = linear_data(jax.random.key(0), n=32)
    params = {"w": jnp.zeros((1, 1)), "b": jnp.zeros((1,))}
    lr = 0.1
    tx = optax.sgd(lr)
    final, history = fit(make_step(mse_objective, tx), init_state(params, tx), (x, y),
                         epochs=5, mode="fused")
    w, b = np.zeros(()), np.zeros(())
    xn, yn = np.asarray(x)[:, 0], np.asarray(y)[:, 0]
    for _ in range(5):
        r = w * xn + b - yn
        w, b = w - lr * 2 * np.mean(r * xn), b - lr * 2 * np.mean(r)
    np.testing.assert_allclose(final.params["w"][0, 0], w, rtol=1e-5)
    np.testing.assert_allclose(final.params["b"][0], b, rtol=1e-5)
    assert history.loss.shape == (5,)


def test_minibatch_epochs_visit_each_example_once():
    idx = np.asarray(epoch_indices(jax.random.key(0), 103, 10))
    assert idx.shape == (10, 10)
    assert len(set(idx.ravel())) == 100 and idx.max() < 103
    np.testing.assert_array_equal(np.asarray(epoch_indices(None, 20, 5)).ravel(), np.arange(20))


def test_logging_every_n_in_every_mode():
    state, data = _problem()
    for mode in MODES:
        events = []
        fit(STEP, state, data, epochs=2, batch_size=10, key=jax.random.key(0), mode=mode,
            log_every=4, on_log=events.append)
        assert [(e.epoch, e.batch) for e in events] == [(0, 0), (0, 4), (0, 8),
                                                        (1, 0), (1, 4), (1, 8)]
        assert all(np.isfinite(e.metrics["loss"]) for e in events)


def test_on_epoch_can_stop_early():
    state, data = _problem()
    final, history = fit(STEP, state, data, epochs=10, batch_size=10, key=jax.random.key(0),
                         on_epoch=lambda e, s: {"stop": e == 2, "epoch": e})
    assert history.stopped_early and len(history.epochs) == 3
    assert int(final.step) == 30 and history.loss.shape == (30,)


def test_non_finite_loss_stops_with_clear_error_and_keeps_state():
    state, data = _problem()
    tx = optim.make("sgd", 1e3)
    with pytest.raises(NonFiniteLoss, match="training loss became") as info:
        fit(make_step(mse_objective, tx), init_state(state.params, tx), data, epochs=5,
            batch_size=10, key=jax.random.key(0), mode="fused")
    assert info.value.state is not None


def test_stateful_objective_threads_model_state_and_key():
    def objective(params, batch, model_state, key):
        noise = jax.random.normal(key, ())
        return jnp.sum(params**2) + 0 * noise, (model_state + 1, {"noise": noise})

    tx = optax.sgd(0.1)
    step = make_step(objective, tx, stateful=True)
    state = init_state(jnp.ones(3), tx, model_state=jnp.zeros(()), key=jax.random.key(0))
    final, history = fit(step, state, None, epochs=3, mode="fused")
    assert float(final.model_state) == 3.0
    assert len(set(history.steps["noise"].tolist())) == 3  # a fresh key every step
    np.testing.assert_allclose(final.params, 0.8**3 * np.ones(3), rtol=1e-6)


def test_evaluate_counts_every_example_once():
    x = jnp.arange(10.0).reshape(10, 1)

    def metric(params, batch):
        return {"value": batch[:, 0] * params, "big": batch[:, 0] > 4}

    for bs in (None, 3, 4, 10):
        out = evaluate(metric, 2.0, x, batch_size=bs)
        assert out["value"] == pytest.approx(9.0) and out["big"] == pytest.approx(0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "turbo"}, "mode must be one of"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": 1000}, "batch_size .1000. is larger than the data"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
])
def test_bad_arguments(kwargs, message):
    state, data = _problem()
    args = {"epochs": 1, "batch_size": 10, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        fit(STEP, state, data, **args)


def test_mismatched_data_lengths():
    state, (x, y) = _problem()
    with pytest.raises(ValueError, match="same number of rows"):
        fit(STEP, state, (x, y[:50]), epochs=1, batch_size=10)
