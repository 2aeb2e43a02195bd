"""The engine (jaxbasics.train): compiled once, same numbers in every mode, exact positions.

In the manner of Optax's ``alias_test.py``: every optimizer of ``optim.OPTIMIZERS`` x every
mode of ``fit`` on a problem with a known answer, and counters of XLA compilations
(``_compiles``) asserting that a second run compiles nothing.

The problems are small (96 points, a linear model or a 2-8-1 MLP with dropout), and the
Steps are module-level so that tests share their compiled programs.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _compiles import count_compiles

from jaxbasics import _programs, callbacks, checkpoint, losses, optim, train
from jaxbasics.data import epoch_indices, linear_data, synthetic_data
from jaxbasics.models import apply_linear, init_linear
from jaxbasics.train import (MODES, Interrupted, LogEvent, NonFiniteLoss, Step,
                             TrainState, fit, init_state, learning_rate, make_step)

N, BATCH = 96, 16
PER_EPOCH = N // BATCH  # 6
X, Y = synthetic_data(jax.random.key(0), n=N)  # (96, 2), (96, 1): y = x.(2, -3.4) + 4.2
DATA = (X, Y)
SHUFFLE = jax.random.key(2)


def mse_objective(params, batch):
    x, y = batch
    return losses.mse(apply_linear(params, x), y)


def mse_metrics(params, batch):
    x, y = batch
    return {"se": jnp.sum((apply_linear(params, x) - y) ** 2, axis=1)}


SGD = optim.make("sgd", 0.05, momentum=0.9)
STEP = make_step(mse_objective, SGD, metrics=mse_metrics)


def linear_params(seed=1):
    return init_linear(jax.random.key(seed), 2, 1)


def fresh(step=STEP, seed=1):
    return init_state(linear_params(seed), step)


def leaves(tree):
    """The tree's leaves as numpy arrays, typed PRNG keys as their key data."""
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
                       else x) for x in jax.tree.leaves(tree)]


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves(a), leaves(b)):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves(a), leaves(b)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def batch_rows(key, epoch):
    """The example indices of epoch ``epoch``'s batches, as fit must draw them."""
    return np.asarray(epoch_indices(jax.random.fold_in(key, epoch), N, BATCH))


# --------------------------------------------------------------------------------------
# 1. The compilation counter


def test_compile_counter_counts_backend_compilations():
    f = jax.jit(lambda x: x + 1)
    vector = np.ones(3, np.float32)
    with count_compiles() as first:
        f(1.0)
    with count_compiles() as second:
        f(2.0)
    with count_compiles() as new_shape:
        f(vector)
    assert first.count == 1, first
    assert second.count == 0, second
    assert new_shape.count == 1, new_shape
    assert first.names == second.names + new_shape.names == ["jit(<lambda>)"]


# --------------------------------------------------------------------------------------
# 2. A Step compiles once


@pytest.mark.parametrize("batch_size", [None, BATCH], ids=["full", "minibatch"])
@pytest.mark.parametrize("mode", MODES)
def test_second_fit_compiles_nothing(mode, batch_size):
    args = dict(epochs=2, batch_size=batch_size, key=SHUFFLE, mode=mode)
    fit(STEP, fresh(seed=1), DATA, **args)  # whatever it compiles (op by op in eager)
    state = fresh(seed=2)                   # same shapes, other values
    with count_compiles() as again:
        second, history = fit(STEP, state, DATA, **args)
    assert again.count == 0, again
    with count_compiles() as resumed:       # from a state a fit returned
        fit(STEP, second, DATA, **args)
    assert resumed.count == 0, resumed
    assert int(second.step) == 2 * (1 if batch_size is None else PER_EPOCH)
    assert history.loss.shape == (int(second.step),) and history.loss[-1] < history.loss[0]


def test_second_evaluate_and_init_compile_nothing():
    state = fresh(seed=1)
    STEP.evaluate(state, DATA, batch_size=10)
    with count_compiles() as again:
        other = fresh(seed=3)
        out = STEP.evaluate(other, DATA, batch_size=10)
    assert again.count == 0, again
    expected = np.mean((np.asarray(apply_linear(other.params, X)) - np.asarray(Y)) ** 2)
    assert out["se"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_a_new_step_compiles_its_own_programs(mode):
    # So the zeros above measure something: the same objective in a new Step compiles.
    fit(STEP, fresh(), DATA, epochs=1, batch_size=BATCH, mode=mode)
    step = make_step(mse_objective, SGD)
    with count_compiles() as compiled:
        fit(step, fresh(step), DATA, epochs=1, batch_size=BATCH, mode=mode)
    assert compiled.count >= 1, compiled


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_a_fit_and_an_evaluation_trace_their_functions_once(mode):
    # The loops call step.jit (and the evaluation a jitted metrics function), so the
    # trace JAX caches serves both the shapes of the history and the loop body: tracing a
    # large model costs once, not four times (the fused epoch nests two loops).
    traces = {"objective": 0, "metrics": 0}

    def objective(params, batch):
        traces["objective"] += 1
        return mse_objective(params, batch)

    def metrics(params, batch):
        traces["metrics"] += 1
        return mse_metrics(params, batch)

    step = make_step(objective, SGD, metrics=metrics)
    state, _ = fit(step, fresh(step), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE, mode=mode)
    step.evaluate(state, DATA, batch_size=10)
    assert traces == {"objective": 1, "metrics": 1}
    fit(step, state, DATA, epochs=1, batch_size=BATCH, key=SHUFFLE, mode=mode)
    step.evaluate(state, DATA, batch_size=10)
    assert traces == {"objective": 1, "metrics": 1}


# A wide linear layer: an evaluation pass over its 4,096 rows is about 4.8e9 flops
# (estimated over 30 ms).
WIDE_X = jax.device_put(np.random.default_rng(0).normal(size=(4096, 768)).astype(np.float32))
WIDE_DATA = (WIDE_X, WIDE_X)


def se_metrics(p, b):
    return {"se": jnp.sum((b[0] @ p - b[1]) ** 2, axis=1)}


def compiled(step, name, pipeline):
    """How many executables ``step``'s program ``name`` holds from ``pipeline``."""
    return step._programs[name].jitted[pipeline]._cache_size()


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_small_work_compiles_quick_and_large_work_fully(mode):
    # Each program is chosen by its estimated work: the tiny regression's fit and
    # evaluation take microseconds (quick); the wide layer's full-batch steps, milliseconds
    # (full). An evaluation's bound is higher (0.1 s against training's 0.03 s): one pass
    # over the wide layer's 4,096 rows (estimated 0.077 s) compiles quick, two (8,192 rows)
    # take the middle pipeline.
    program = {"jit": "recorded", "fused": "fused"}[mode]
    step = make_step(mse_objective, SGD, metrics=mse_metrics)
    for _ in range(2):
        state, _ = fit(step, fresh(step), DATA, epochs=1, batch_size=BATCH, key=SHUFFLE,
                       mode=mode)
        step.evaluate(state, DATA, batch_size=BATCH)
    assert (compiled(step, program, "full"), compiled(step, program, "quick")) == (0, 1)
    assert (compiled(step, "evaluate", "full"), compiled(step, "evaluate", "quick")) == (0, 1)
    assert len(step._programs["evaluate"].costs) == 1  # one data shape: analysed once
    wide = make_step(lambda p, b: losses.mse(b[0] @ p, b[1]), optim.make("sgd", 1e-3),
                     metrics=se_metrics)
    state, _ = fit(wide, init_state(jnp.zeros((768, 768)), wide), WIDE_DATA, epochs=2,
                   mode=mode)
    wide.evaluate(state, WIDE_DATA, batch_size=4096)
    assert (compiled(wide, program, "full"), compiled(wide, program, "quick")) == (1, 0)
    (cost,) = wide._programs["evaluate"].costs.values()
    assert _programs.QUICK_BELOW_SECONDS["full"] < cost < _programs.QUICK_BELOW_SECONDS["middle"]
    assert [compiled(wide, "evaluate", p) for p in ("full", "middle", "quick")] == [0, 0, 1]
    twice = jnp.concatenate([WIDE_X, WIDE_X])
    wide.evaluate(state, (twice, twice), batch_size=4096)
    assert [compiled(wide, "evaluate", p) for p in ("full", "middle", "quick")] == [0, 1, 1]


def test_a_fit_chooses_by_the_steps_to_its_end(monkeypatch):
    # The work a fit's training program is chosen by is the run's last step, counted from
    # step 0: a run resumed after 2 of 4 epochs chooses as the uninterrupted run did.
    works = []
    choose = _programs.Program.choose
    monkeypatch.setattr(_programs.Program, "choose",
                        lambda self, work, *a, **k: works.append(work) or choose(self, work, *a, **k))
    args = dict(batch_size=BATCH, key=SHUFFLE, mode="fused")
    fit(make_step(mse_objective, SGD), fresh(), DATA, epochs=4, **args)
    half, _ = fit(make_step(mse_objective, SGD), fresh(), DATA, epochs=2, **args)
    fit(make_step(mse_objective, SGD), half, DATA, epochs=2, **args)
    assert works == [4 * (N // BATCH), 2 * (N // BATCH), 4 * (N // BATCH)]


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_more_work_moves_up_to_the_full_pipeline(monkeypatch, mode):
    # The cost of one step is analysed once; each fit multiplies it by its steps. With the
    # bound between 1 and 3 epochs' worth: a 1-epoch fit runs quick, a 3-epoch fit compiles
    # the full pipeline once, and neither compiles again when repeated.
    program = {"jit": "recorded", "fused": "fused"}[mode]
    step = make_step(mse_objective, SGD)
    args = dict(batch_size=BATCH, key=SHUFFLE, mode=mode)
    fit(step, fresh(step), DATA, epochs=1, **args)
    (cost,) = step._programs[program].costs.values()
    monkeypatch.setitem(_programs.QUICK_BELOW_SECONDS, "full", 2 * (N // BATCH) * cost)
    fit(step, fresh(step), DATA, epochs=1, **args)
    assert (compiled(step, program, "full"), compiled(step, program, "quick")) == (0, 1)
    fit(step, fresh(step), DATA, epochs=3, **args)
    assert (compiled(step, program, "full"), compiled(step, program, "quick")) == (1, 1)
    with count_compiles() as again:
        fit(step, fresh(step), DATA, epochs=1, **args)
        fit(step, fresh(step), DATA, epochs=3, **args)
    assert again.count == 0, again
    assert len(step._programs[program].costs) == 1


@pytest.mark.parametrize("quick_compile", [True, False])
def test_forced_pipeline_compiles_every_program_so_and_trains_alike(quick_compile):
    # The pipeline changes how XLA compiles, not what is computed: the tiny regression
    # forced either way ends where the default does, to float rounding.
    pipeline = "quick" if quick_compile else "full"
    step = make_step(mse_objective, SGD, metrics=mse_metrics, quick_compile=quick_compile)
    args = dict(epochs=3, batch_size=BATCH, key=SHUFFLE, mode="fused")
    forced, forced_h = fit(step, fresh(step), DATA, **args)
    step.evaluate(forced, DATA, batch_size=BATCH)
    default, default_h = fit(STEP, fresh(), DATA, **args)
    np.testing.assert_allclose(forced_h.loss, default_h.loss, rtol=1e-5)
    assert_trees_close(forced.params, default.params)
    assert compiled(step, "fused", pipeline) == compiled(step, "evaluate", pipeline) == 1
    assert step._programs["evaluate"].costs == {}  # nothing to decide


# --------------------------------------------------------------------------------------
# 3. Every optimizer x every mode, on least squares (the closed-form answer is known)

LSTSQ = np.linalg.lstsq(np.c_[np.asarray(X, np.float64), np.ones(N)],
                        np.asarray(Y, np.float64), rcond=None)[0][:, 0]

# Full-batch runs to the least-squares solution. ``epochs`` is even: the run is two fits of
# epochs // 2 (the second must compile nothing, in fused mode too: same static epochs).
# A name added to optim.OPTIMIZERS runs with DEFAULT unless it needs its own entry.
DEFAULT = {"learning_rate": 0.1, "hyper": {}, "epochs": 200, "atol": 1e-3}
CONFIGS = {
    "momentum": {"learning_rate": 0.05},
    "adamw": {"hyper": {"weight_decay": 0.0}},  # decay moves the minimum off the lstsq one
    "adagrad": {"learning_rate": 1.0},  # its steps shrink as 1/sqrt(t): start large
    "lbfgs": {"learning_rate": 1.0, "epochs": 6, "atol": 1e-4},  # 3 parameters: few steps
}
# optax.lbfgs runs lax.scan/while_loop built from new closures at each update: dispatched
# op by op (eager) they are retraced and recompiled at every step, second fit included.
EAGER_RECOMPILES = {"lbfgs"}


def config(name):
    return {**DEFAULT, **CONFIGS.get(name, {})}


@functools.cache
def optimizer_step(name):
    c = config(name)
    return make_step(mse_objective, optim.make(name, c["learning_rate"], **c["hyper"]))


@functools.cache
def optimizer_run(name, mode):
    """Two fits of half the epochs each: (final state, loss history, the first fit's
    compilations, the second fit's)."""
    step, half = optimizer_step(name), config(name)["epochs"] // 2
    state = init_state(linear_params(), step)
    with count_compiles() as first_compiles:
        state, first = fit(step, state, DATA, epochs=half, mode=mode)
    with count_compiles() as second_compiles:
        state, second = fit(step, state, DATA, epochs=half, mode=mode)
    return state, np.concatenate([first.loss, second.loss]), first_compiles, second_compiles


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_optimizer_reaches_least_squares_solution(name, mode):
    state, loss, _, _ = optimizer_run(name, mode)
    got = np.r_[np.asarray(state.params["w"])[0], np.asarray(state.params["b"])]
    np.testing.assert_allclose(got, LSTSQ, atol=config(name)["atol"])
    assert int(state.step) == config(name)["epochs"] == loss.shape[0]
    assert loss[-1] < 1e-3 * loss[0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_optimizer_step_compiles_once(name, mode):
    """jit and fused compile one program in the first fit (the step, or the scan of it) and
    nothing in the second, which goes on from the state the first returned."""
    if mode == "eager" and name in EAGER_RECOMPILES:
        pytest.skip(f"{name} recompiles its control flow at every eager step")
    _, _, first, second = optimizer_run(name, mode)
    if mode != "eager":
        assert first.count == 1, first
    assert second.count == 0, second


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_optimizer_trajectory_same_in_every_mode(name):
    (eager_state, eager), (jit_state, jitted), (fused_state, fused) = (
        optimizer_run(name, mode)[:2] for mode in MODES)
    # L-BFGS's line search turns the last-bit differences of a compiled program (XLA's
    # quick pipeline here: small work) into 3e-5 of the third step's loss.
    rtol = 1e-4 if name == "lbfgs" else 1e-5
    np.testing.assert_allclose(jitted, eager, rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(fused, eager, rtol=rtol, atol=1e-7)
    assert_trees_close(jit_state.params, eager_state.params)
    assert_trees_close(fused_state.params, eager_state.params)


def test_sgd_matches_closed_form_gradient_descent():
    # One linear unit, MSE, plain GD: the update is w -= lr * (2/n) X^T (Xw + b - y).
    x, y = linear_data(jax.random.key(0), n=32)
    params = {"w": jnp.zeros((1, 1)), "b": jnp.zeros((1,))}
    lr = 0.1
    step = make_step(mse_objective, optax.sgd(lr))
    final, history = fit(step, init_state(params, step), (x, y), epochs=5, mode="fused")
    w, b = np.zeros(()), np.zeros(())
    xn, yn = np.asarray(x, np.float64)[:, 0], np.asarray(y, np.float64)[:, 0]
    expected_loss = []
    for _ in range(5):
        r = w * xn + b - yn
        expected_loss.append(np.mean(r**2))
        w, b = w - lr * 2 * np.mean(r * xn), b - lr * 2 * np.mean(r)
    np.testing.assert_allclose(final.params["w"][0, 0], w, rtol=1e-5)
    np.testing.assert_allclose(final.params["b"][0], b, rtol=1e-5)
    np.testing.assert_allclose(history.loss, expected_loss, rtol=1e-5)


def test_minibatch_modes_agree_and_seeds_reproduce():
    runs = {mode: fit(STEP, fresh(), DATA, epochs=3, batch_size=BATCH, key=SHUFFLE, mode=mode)
            for mode in MODES}
    for mode in ("jit", "fused"):
        np.testing.assert_allclose(runs[mode][1].loss, runs["eager"][1].loss, rtol=1e-5,
                                   atol=1e-7)
        assert_trees_close(runs[mode][0].params, runs["eager"][0].params)
    again = fit(STEP, fresh(), DATA, epochs=3, batch_size=BATCH, key=SHUFFLE, mode="fused")
    np.testing.assert_array_equal(again[1].loss, runs["fused"][1].loss)
    other = fit(STEP, fresh(), DATA, epochs=3, batch_size=BATCH, key=jax.random.key(7),
                mode="fused")
    assert not np.array_equal(other[1].loss, runs["fused"][1].loss)


def test_minibatch_epochs_visit_each_example_once():
    idx = np.asarray(epoch_indices(jax.random.key(0), 103, 10))
    assert idx.shape == (10, 10)
    assert len(set(idx.ravel())) == 100 and idx.max() < 103
    np.testing.assert_array_equal(np.asarray(epoch_indices(None, 20, 5)).ravel(), np.arange(20))


# --------------------------------------------------------------------------------------
# 4. has_aux and stateful objectives


def aux_objective(params, batch):
    x, y = batch
    return mse_objective(params, batch), {"first_x": x[0, 0], "w0": params["w"][0, 0]}


AUX_STEP = make_step(aux_objective, SGD, has_aux=True)


@pytest.mark.parametrize("mode", MODES)
def test_has_aux_metrics_are_recorded_per_batch(mode):
    final, history = fit(AUX_STEP, fresh(AUX_STEP), DATA, epochs=2, batch_size=BATCH,
                         key=SHUFFLE, mode=mode)
    # first_x: the first example of each batch, in the order fit must shuffle them
    rows = np.concatenate([batch_rows(SHUFFLE, e) for e in range(2)])
    np.testing.assert_array_equal(history.steps["first_x"], np.asarray(X)[rows[:, 0], 0])
    # w0 is the parameter before the update; the same run without aux has the same numbers
    plain, plain_history = fit(STEP, fresh(), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE,
                               mode=mode)
    assert history.steps["w0"][0] == np.asarray(fresh().params["w"])[0, 0]
    np.testing.assert_allclose(history.loss, plain_history.loss, rtol=1e-6)
    assert_trees_close(final.params, plain.params, rtol=1e-6, atol=0)
    assert set(history.steps) == {"loss", "first_x", "w0"}


@pytest.mark.parametrize("mode", MODES)
def test_has_aux_full_batch_quadratic(mode):
    def objective(p, batch):
        assert batch is None
        return jnp.sum(p**2), {"p0": p[0]}

    step = make_step(objective, optax.sgd(0.1), has_aux=True)
    final, history = fit(step, init_state(jnp.ones(3), step), None, epochs=6, mode=mode)
    t = np.arange(6)
    np.testing.assert_allclose(history.steps["p0"], 0.8**t, rtol=1e-6)  # p <- (1 - 2 lr) p
    np.testing.assert_allclose(history.loss, 3 * 0.64**t, rtol=1e-6)
    np.testing.assert_allclose(final.params, 0.8**6 * np.ones(3), rtol=1e-6)


DROP_KEY = jax.random.key(5)
KEEP = 0.75


def dropout_objective(params, batch, model_state, key):
    """A 2-8-1 MLP with dropout; model_state is a running mean of the inputs."""
    x, y = batch
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    keep = jax.random.bernoulli(key, KEEP, h.shape)
    h = jnp.where(keep, h / KEEP, 0.0)
    loss = jnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)
    running = 0.9 * model_state + 0.1 * jnp.mean(x, axis=0)
    return loss, (running, {"noise": jax.random.normal(key, ())})


def mlp_params(seed=1):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return {"w1": 0.5 * jax.random.normal(k1, (2, 8)), "b1": jnp.zeros(8),
            "w2": 0.5 * jax.random.normal(k2, (8, 1)), "b2": jnp.zeros(1)}


DROPOUT_STEP = make_step(dropout_objective, optim.make("sgd", 0.1, momentum=0.9), stateful=True)


def dropout_state(seed=1, key=DROP_KEY):
    return init_state(mlp_params(seed), DROPOUT_STEP, model_state=jnp.zeros(2), key=key)


DROPOUT_FIT = dict(batch_size=BATCH, key=SHUFFLE)


@functools.cache
def dropout_run(mode, epochs=4):
    return fit(DROPOUT_STEP, dropout_state(), DATA, epochs=epochs, mode=mode, **DROPOUT_FIT)


def normal_draws(key, steps):
    return np.array([jax.random.normal(jax.random.fold_in(key, s), ()) for s in steps])


@pytest.mark.parametrize("mode", MODES)
def test_stateful_objective_threads_model_state_and_step_keys(mode):
    final, history = dropout_run(mode)
    steps = 4 * PER_EPOCH
    # the key of step s is fold_in(state.key, s): the recorded draws say so (another key
    # gives another number; the compiled normal may differ from the eager one in the last bit)
    np.testing.assert_allclose(history.steps["noise"], normal_draws(DROP_KEY, range(steps)),
                               rtol=1e-6, atol=1e-7)
    # model_state is threaded through every step, in the batches' order
    running = np.zeros(2)
    for e in range(4):
        for rows in batch_rows(SHUFFLE, e):
            running = 0.9 * running + 0.1 * np.asarray(X, np.float64)[rows].mean(0)
    np.testing.assert_allclose(final.model_state, running, rtol=1e-5)
    assert_trees_equal(final.key, DROP_KEY)  # the key never changes
    assert int(final.step) == steps


def test_stateful_objective_same_numbers_in_every_mode():
    (eager, eager_h), (jitted, jit_h), (fused, fused_h) = (dropout_run(m) for m in MODES)
    for state, history in ((jitted, jit_h), (fused, fused_h)):
        np.testing.assert_allclose(history.loss, eager_h.loss, rtol=1e-5, atol=1e-7)
        assert_trees_close(state.params, eager.params, atol=1e-5)
        assert_trees_close(state.model_state, eager.model_state)


def test_resumed_stateful_run_draws_keys_at_absolute_steps():
    half, _ = dropout_run("jit", 2)
    _, history = fit(DROPOUT_STEP, half, DATA, epochs=1, mode="jit", **DROPOUT_FIT)
    start = 2 * PER_EPOCH
    np.testing.assert_array_equal(history.steps["noise"],
                                  normal_draws(DROP_KEY, range(start, start + PER_EPOCH)))


def test_stateful_objective_without_key_gets_none():
    seen = []

    def objective(params, batch, model_state, key):
        seen.append(key)
        return jnp.sum(params**2), (model_state + 1, {})

    step = make_step(objective, optax.sgd(0.1), stateful=True)
    final, _ = fit(step, init_state(jnp.ones(3), step, model_state=jnp.zeros(())), None,
                   epochs=3, mode="fused")
    assert seen and all(k is None for k in seen)
    assert float(final.model_state) == 3.0 and final.key is None


def test_evaluate_counts_every_example_once_and_passes_model_state():
    x = jnp.arange(10.0).reshape(10, 1)

    def metric(params, batch):
        return {"value": batch[:, 0] * params, "big": batch[:, 0] > 4}

    step = make_step(lambda p, b: jnp.sum(p), optax.sgd(0.1), metrics=metric)
    state = init_state(jnp.asarray(2.0), step)
    for bs in (None, 3, 4, 10, 50):
        out = step.evaluate(state, x, batch_size=bs)
        assert out["value"] == pytest.approx(9.0) and out["big"] == pytest.approx(0.5)

    def stateful_metric(params, batch, model_state):
        return {"shifted": batch[:, 0] + model_state}

    step = make_step(lambda p, b, m, k: (jnp.sum(p), (m, {})), optax.sgd(0.1), stateful=True,
                     metrics=stateful_metric)
    state = init_state(jnp.asarray(2.0), step, model_state=jnp.asarray(10.0))
    assert step.evaluate(state, x, batch_size=3)["shifted"] == pytest.approx(14.5)
    with pytest.raises(ValueError, match="no metrics function"):
        AUX_STEP.evaluate(state, x)


def test_per_example_evaluation_is_the_same_program():
    # 10 examples in batches of 4: the last batch is padded with copies of example 9,
    # which must not appear. An integer metric (a "prediction") has no mean.
    x = jnp.arange(10.0).reshape(10, 1)

    def metric(params, batch):
        return {"value": batch[:, 0] * params, "rank": (batch[:, 0] // 3).astype(jnp.int32)}

    step = make_step(lambda p, b: jnp.sum(p), optax.sgd(0.1), metrics=metric)
    state = init_state(jnp.asarray(2.0), step)
    means = step.evaluate(state, x, batch_size=4)
    assert means == {"value": pytest.approx(9.0)}
    with count_compiles() as compiled:
        values = step.evaluate(state, x, batch_size=4, per_example=True)
    assert compiled.count == 0, compiled
    np.testing.assert_array_equal(values["value"], 2.0 * np.arange(10))
    np.testing.assert_array_equal(values["rank"], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    assert values["rank"].dtype == np.int32 and values["value"].shape == (10,)


# --------------------------------------------------------------------------------------
# 5. NonFiniteLoss: where it happened and the exact state before it
#
# p is a scalar weight with loss 0.5 p^2 and sgd(5): p <- p - 5p = -4p, exactly, so
# p_t = (-4)^t and the loss 0.5 * 16^t first overflows float32 at step 32 (p^2 = 2^128).
# q is an ordinary least-squares weight on shuffled data, so the carried state is not
# trivially recomputable. 56 examples in batches of 8: 7 per epoch, step 32 is epoch 4
# batch 4 (the epoch starts at step 28).

NF_LR = 5.0
DIVERGES_AT = 32
NF_N, NF_BATCH = 56, 8
NF_PER_EPOCH = NF_N // NF_BATCH
_kz, _kt = jax.random.split(jax.random.key(11))
NF_DATA = (jax.random.normal(_kz, (NF_N, 3)), jax.random.normal(_kt, (NF_N,)))


def diverging_objective(params, batch):
    z, t = batch
    return 0.5 * params["p"] ** 2 + 0.01 * jnp.mean((z @ params["q"] - t) ** 2)


NF_STEP = make_step(diverging_objective, optax.inject_hyperparams(optax.sgd)(learning_rate=NF_LR))
NF_PARAMS = {"p": jnp.ones(()), "q": jnp.asarray([0.5, -0.25, 0.125])}


def stop_never(epoch, state):
    return None


# (mode, batch_size, on_epoch, steps_per_call) -> the first step of the compiled call (the
# transfer of metrics, in jit mode; the epoch's loop, in eager mode) that saw the inf
NF_CASES = [
    # full batch: one program (fused) or one transfer of metrics (jit, eager) for the whole
    # run without on_epoch; an epoch is one step
    ("fused", None, False, None, 0),
    ("jit", None, False, None, 0),
    ("eager", None, True, None, DIVERGES_AT),
    ("fused", None, False, 10, 30),     # steps_per_call counts epochs here
    # minibatch: with on_epoch, an epoch per call in every mode
    ("fused", NF_BATCH, True, None, 28),
    ("jit", NF_BATCH, True, None, 28),
    ("eager", NF_BATCH, True, None, 28),
    ("fused", NF_BATCH, False, None, 0),
    ("jit", NF_BATCH, False, None, 28),
    ("fused", NF_BATCH, False, 3, 31),  # epoch 4 in calls of 3 + 3 + 1 steps
    ("jit", NF_BATCH, False, 3, 31),
]


def nf_fit(state, mode, batch_size, with_on_epoch, steps_per_call, epochs):
    return fit(NF_STEP, state, NF_DATA, epochs=epochs, batch_size=batch_size, mode=mode,
               key=jax.random.key(4), on_epoch=stop_never if with_on_epoch else None,
               steps_per_call=steps_per_call)


@pytest.mark.parametrize("mode, batch_size, with_on_epoch, steps_per_call, start", NF_CASES)
def test_non_finite_loss_carries_step_and_state(mode, batch_size, with_on_epoch, steps_per_call,
                                                start):
    per_epoch = 1 if batch_size is None else NF_PER_EPOCH
    epochs = (DIVERGES_AT + 10) // per_epoch  # past the divergence
    init = init_state(NF_PARAMS, NF_STEP)
    with pytest.raises(NonFiniteLoss, match=f"loss became inf at step {DIVERGES_AT}") as info:
        nf_fit(init, mode, batch_size, with_on_epoch, steps_per_call, epochs)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.step == DIVERGES_AT
    assert err.loss == np.inf
    assert int(err.state.step) == start
    # p_t = (-4)^t exactly: the state is the one at the start of the call, not after it
    assert float(err.state.params["p"]) == (1 - NF_LR) ** start
    if start == 0:
        assert_trees_equal(err.state, init)
    if start % per_epoch == 0 and start > 0:
        # ... and it is bit for bit the state of the same fit stopped there
        reference, _ = nf_fit(init, mode, batch_size, with_on_epoch, steps_per_call,
                              start // per_epoch)
        assert_trees_equal(err.state, reference)


def test_non_finite_loss_reports_the_injected_learning_rate():
    init = init_state(NF_PARAMS, NF_STEP)
    assert learning_rate(init.opt_state) == NF_LR
    with pytest.raises(NonFiniteLoss, match=f"inf at step {DIVERGES_AT} with learning rate 5;"
                       ) as info:
        nf_fit(init, "fused", None, False, None, DIVERGES_AT + 10)
    assert info.value.learning_rate == NF_LR


def test_non_finite_loss_without_injected_learning_rate():
    step = make_step(diverging_objective, optax.sgd(NF_LR))
    state = init_state(NF_PARAMS, step)
    assert learning_rate(state.opt_state) is None
    with pytest.raises(NonFiniteLoss, match=f"inf at step {DIVERGES_AT}; the learning") as info:
        fit(step, state, NF_DATA, epochs=DIVERGES_AT + 10, mode="fused")
    assert info.value.learning_rate is None and info.value.step == DIVERGES_AT


# --------------------------------------------------------------------------------------
# 6. Exact resume: from a checkpoint between epochs, and from the middle of an epoch


@pytest.mark.parametrize("mode", MODES)
def test_resume_from_checkpoint_is_bit_for_bit(mode, tmp_path):
    straight, straight_history = dropout_run(mode)  # 4 epochs in one fit (fused: one program)
    with checkpoint.Checkpoints(tmp_path / "run", every=2) as saved:
        half, first = fit(DROPOUT_STEP, dropout_state(), DATA, epochs=2, mode=mode,
                          on_epoch=saved, **DROPOUT_FIT)
        assert saved.steps == [2 * PER_EPOCH]
        template = dropout_state(seed=9, key=jax.random.key(0))  # other values, same shapes
        restored = saved.restore(template)
        assert_trees_equal(restored, half)
        events = []
        final, second = fit(DROPOUT_STEP, restored, DATA, epochs=2, mode=mode, on_epoch=saved,
                            log_every=PER_EPOCH, on_log=events.append, **DROPOUT_FIT)
        assert saved.steps == [2 * PER_EPOCH, 4 * PER_EPOCH]
    assert_trees_equal(final, straight)
    for name in straight_history.steps:
        np.testing.assert_array_equal(
            np.concatenate([first.steps[name], second.steps[name]]), straight_history.steps[name])
    # positions are absolute in the resumed fit
    assert [(e.step, e.epoch, e.batch) for e in events] == [(12, 2, 0), (18, 3, 0)]
    assert second.epochs == [{}, {"checkpoint": 24}]


@pytest.mark.parametrize("mode", MODES)
def test_resume_from_the_middle_of_an_epoch_is_bit_for_bit(mode):
    straight, straight_history = dropout_run(mode)

    def interrupt(event):
        if event.step == 1:
            raise KeyboardInterrupt

    # calls of 3 steps in epochs of 6: interrupted in the call [0, 3), so at step 3
    with pytest.raises(Interrupted, match="interrupted at step 3") as info:
        fit(DROPOUT_STEP, dropout_state(), DATA, epochs=4, mode=mode, steps_per_call=3,
            log_every=1, on_log=interrupt, **DROPOUT_FIT)
    stopped = info.value
    assert isinstance(stopped, KeyboardInterrupt)
    assert int(stopped.state.step) == 3 and stopped.history.loss.shape == (3,)
    np.testing.assert_array_equal(stopped.history.loss, straight_history.loss[:3])
    events, epochs = [], []
    # the partial epoch 0 counts as one of the 4; it ends with the first on_epoch
    final, rest = fit(DROPOUT_STEP, stopped.state, DATA, epochs=4, mode=mode, log_every=2,
                      on_log=events.append, on_epoch=lambda e, s: epochs.append((e, int(s.step))),
                      **DROPOUT_FIT)
    assert_trees_equal(final, straight)
    np.testing.assert_array_equal(np.concatenate([stopped.history.loss, rest.loss]),
                                  straight_history.loss)
    assert epochs == [(0, 6), (1, 12), (2, 18), (3, 24)]
    assert [(e.step, e.epoch, e.batch) for e in events][:4] == [(4, 0, 4), (6, 1, 0), (8, 1, 2),
                                                               (10, 1, 4)]
    assert all(e.num_batches == PER_EPOCH for e in events)
    np.testing.assert_array_equal([e.metrics["loss"] for e in events],
                                  straight_history.loss[4::2])


# --------------------------------------------------------------------------------------
# 8. Logging, chunks, on_epoch, arguments


@pytest.mark.parametrize("mode", MODES)
def test_log_events_at_absolute_positions(mode):
    events = []
    _, history = fit(STEP, fresh(), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE, mode=mode,
                     log_every=4, on_log=events.append)
    assert [(e.step, e.epoch, e.batch) for e in events] == [(0, 0, 0), (4, 0, 4), (6, 1, 0),
                                                            (10, 1, 4)]
    assert all(isinstance(e, LogEvent) and e.num_batches == PER_EPOCH for e in events)
    np.testing.assert_array_equal([e.metrics["loss"] for e in events], history.loss[[0, 4, 6, 10]])
    assert all(type(e.metrics["loss"]) is float for e in events)

    events = []
    _, history = fit(STEP, fresh(), DATA, epochs=6, mode=mode, log_every=2,
                     on_log=events.append)
    assert [(e.step, e.epoch, e.batch, e.num_batches) for e in events] == [
        (0, 0, 0, 1), (2, 2, 0, 1), (4, 4, 0, 1)]
    np.testing.assert_array_equal([e.metrics["loss"] for e in events], history.loss[[0, 2, 4]])

    calls = []
    fit(STEP, fresh(), DATA, epochs=1, batch_size=BATCH, mode=mode, on_log=calls.append)
    assert calls == []  # log_every=0: never


@pytest.mark.parametrize("mode", MODES)
def test_steps_per_call_gives_the_same_run(mode):
    whole, whole_history = fit(STEP, fresh(), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE,
                               mode=mode)
    chunked, chunked_history = fit(STEP, fresh(), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE,
                                   mode=mode, steps_per_call=3)
    assert_trees_equal(chunked, whole)
    np.testing.assert_array_equal(chunked_history.loss, whole_history.loss)
    whole, whole_history = fit(STEP, fresh(), DATA, epochs=6, mode=mode)
    chunked, chunked_history = fit(STEP, fresh(), DATA, epochs=6, mode=mode, steps_per_call=3)
    assert_trees_equal(chunked, whole)
    np.testing.assert_array_equal(chunked_history.loss, whole_history.loss)


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_uneven_calls_compile_one_training_program(mode):
    # 6 batches an epoch in calls of at most 4 (calls of 4 and 2 steps), and jit mode's
    # 7 full-batch steps in calls of at most 3 (3, 3, 1): one training program each.
    program = {"jit": "recorded", "fused": "fused"}[mode]
    step = make_step(mse_objective, SGD)
    fit(step, fresh(step), DATA, epochs=2, batch_size=BATCH, key=SHUFFLE, mode=mode,
        steps_per_call=4)
    assert step._programs[program].cache_size() == 1
    if mode == "jit":
        step = make_step(mse_objective, SGD)
        fit(step, fresh(step), DATA, epochs=7, mode=mode, steps_per_call=3)
        assert step._programs[program].cache_size() == 1


def test_fused_runs_are_the_same_however_chunked_and_gathered(monkeypatch):
    """Calls of one step (which XLA would compile without the loop), uneven calls, one take
    per epoch or per step: the uninterrupted fused run, bit for bit; ``unroll`` (full
    batch) resumes exactly too and stays within float tolerance of the jit run."""
    straight_state, straight = dropout_run("fused")
    for whole_epoch_bytes in (train.WHOLE_EPOCH_BYTES, 0):  # 0: a take per step
        monkeypatch.setattr(train, "WHOLE_EPOCH_BYTES", whole_epoch_bytes)
        for steps_per_call in (None, 1, 5):
            state, history = fit(DROPOUT_STEP, dropout_state(), DATA, epochs=4, mode="fused",
                                 steps_per_call=steps_per_call, **DROPOUT_FIT)
            assert_trees_equal(state, straight_state)
            np.testing.assert_array_equal(history.loss, straight.loss)
    jit_state, jit_history = fit(STEP, fresh(), DATA, epochs=6, mode="jit")
    unrolled, history = fit(STEP, fresh(), DATA, epochs=6, mode="fused", unroll=4)
    assert_trees_close(unrolled, jit_state)
    np.testing.assert_allclose(history.loss, jit_history.loss, rtol=1e-5, atol=1e-7)
    for steps_per_call in (1, 3):
        state, chunked = fit(STEP, fresh(), DATA, epochs=6, mode="fused", unroll=4,
                             steps_per_call=steps_per_call)
        assert_trees_equal(state, unrolled)
        np.testing.assert_array_equal(chunked.loss, history.loss)


@pytest.mark.parametrize("mode", MODES)
def test_on_epoch_sees_absolute_epochs_and_can_stop(mode):
    seen = []

    def on_epoch(epoch, state):
        seen.append((epoch, int(state.step)))
        return {"stop": epoch == 2, "epoch": epoch}

    final, history = fit(STEP, fresh(), DATA, epochs=10, batch_size=BATCH, key=SHUFFLE,
                         mode=mode, on_epoch=on_epoch)
    assert seen == [(0, 6), (1, 12), (2, 18)]
    assert history.stopped_early and [d["epoch"] for d in history.epochs] == [0, 1, 2]
    assert int(final.step) == 18 and history.loss.shape == (18,)

    # resumed, on_epoch goes on counting; stopping at the last epoch is no early stop
    seen.clear()

    def stop_at_4(epoch, state):
        seen.append((epoch, int(state.step)))
        return {"stop": epoch == 4}

    final, history = fit(STEP, final, DATA, epochs=2, batch_size=BATCH, key=SHUFFLE, mode=mode,
                         on_epoch=stop_at_4)
    assert seen == [(3, 24), (4, 30)]
    assert not history.stopped_early and int(final.step) == 30


def test_early_stopping_callback_through_fit():
    values = iter([3.0, 2.0, 2.5, 2.6, 2.7, 1.0])
    stopper = callbacks.EarlyStopping(lambda state: {"loss": next(values)}, patience=2)
    final, history = fit(STEP, fresh(), DATA, epochs=6, batch_size=BATCH, key=SHUFFLE,
                         on_epoch=stopper)
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert history.stopped_early and int(final.step) == 4 * PER_EPOCH
    assert int(stopper.restore(final).step) == 2 * PER_EPOCH
    assert [d["val_loss"] for d in history.epochs] == [3.0, 2.0, 2.5, 2.6]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"mode": "turbo"}, ValueError, "mode must be one of 'eager', 'jit', 'fused'; got 'turbo'"),
    ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
    ({"epochs": 1.5}, TypeError, "epochs must be a positive integer"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ({"batch_size": 1000}, ValueError, r"batch_size \(1000\) is larger than the data \(96 "),
    ({"steps_per_call": 0}, ValueError, "steps_per_call must be a positive integer"),
    ({"log_every": -1}, ValueError, "log_every must be a positive integer"),
    ({"key": 3}, TypeError, r"key must be a PRNG key, jax.random.key\(seed\); got int$"),
    ({"epochs": 2**31 // 6 + 1}, ValueError, r"epochs \(357913942\) of 6 steps from step 0 would "
                                          r"pass step 2147483647"),
    ({"key": jax.random.split(jax.random.key(0), 2)}, TypeError,
     r"key must be a PRNG key.*; got PRNGKeyArray \(2,\)$"),
])
def test_bad_arguments(kwargs, error, message):
    args = {"epochs": 1, "batch_size": BATCH, **kwargs}
    with pytest.raises(error, match=message):
        fit(STEP, fresh(), DATA, **args)


def test_make_step_wants_a_function_an_optax_optimizer_and_a_scalar_loss():
    with pytest.raises(TypeError,
                       match="optimizer must be an optax.GradientTransformation.*got str"):
        make_step(mse_objective, "sgd")
    with pytest.raises(TypeError, match="objective must be a function of .*got int"):
        make_step(3, SGD)
    per_example = make_step(lambda p, batch: (apply_linear(p, batch[0]) - batch[1]) ** 2, SGD)
    with pytest.raises(TypeError, match=r"must return a scalar loss .*returned shape \(8, 1\)"):
        fit(per_example, init_state(linear_params(), per_example), DATA, epochs=1, batch_size=8)


def test_objective_output_must_match_has_aux_and_stateful():
    pair = make_step(lambda p, batch: (mse_objective(p, batch), {"n": 1.0}), SGD)
    with pytest.raises(TypeError, match="returned a tuple; .*for a tuple pass has_aux=True"):
        fit(pair, init_state(linear_params(), pair), DATA, epochs=1, batch_size=8)
    scalar = make_step(mse_objective, SGD, has_aux=True)
    with pytest.raises(TypeError, match=r"returned a \w+; with has_aux=True it returns "
                                        r"\(loss, metrics\)"):
        fit(scalar, init_state(linear_params(), scalar), DATA, epochs=1, batch_size=8)


def test_fit_and_evaluate_check_the_state_data_and_on_epoch():
    with pytest.raises(TypeError, match="state must be the TrainState .*got dict"):
        fit(STEP, linear_params(), DATA, epochs=1, batch_size=8)
    with pytest.raises(TypeError, match="state must be the TrainState .*got dict"):
        STEP.evaluate(linear_params(), DATA)
    empty = jax.tree.map(lambda a: a[:0], DATA)
    with pytest.raises(ValueError, match=r"data has no examples: .*\(0, 1\)"):
        STEP.evaluate(fresh(), empty, batch_size=10)
    with pytest.raises(ValueError, match=r"data has an empty array: \(0, 2\), \(0, 1\)$"):
        fit(STEP, fresh(), empty, epochs=1)
    with pytest.raises(TypeError, match="on_epoch must return a dict .*or None; it returned int"):
        fit(STEP, fresh(), DATA, epochs=1, batch_size=BATCH, on_epoch=lambda e, s: 3)


def test_a_nan_loss_at_the_first_step_blames_the_data_not_the_learning_rate():
    bad = (X.at[3, 0].set(jnp.nan), Y)
    with pytest.raises(NonFiniteLoss, match="at step 0, before any update, so the data"):
        fit(STEP, fresh(), bad, epochs=1, batch_size=BATCH)


def test_a_raw_prng_key_shuffles_as_its_typed_key():
    raw = jax.random.PRNGKey(7)
    typed = jax.random.wrap_key_data(raw)
    runs = [fit(STEP, fresh(), DATA, epochs=2, batch_size=BATCH, key=k)[1].loss
            for k in (raw, typed)]
    np.testing.assert_array_equal(*runs)


def test_fit_and_init_state_want_a_step():
    with pytest.raises(TypeError, match="step must be what make_step returns; got function"):
        fit(STEP.fn, fresh(), DATA, epochs=1)
    with pytest.raises(TypeError, match="init_state takes the Step .*got GradientTransformation"):
        init_state(linear_params(), SGD)


def test_mismatched_data_lengths():
    with pytest.raises(ValueError, match="same number of rows"):
        fit(STEP, fresh(), (X, Y[:50]), epochs=1, batch_size=10)


def test_step_object_and_init_state():
    assert isinstance(STEP, Step) and STEP.optimizer is SGD and STEP.metrics is mse_metrics
    state = fresh()
    assert isinstance(state, TrainState)
    assert state.step.dtype == jnp.int32 and int(state.step) == 0
    assert state.model_state is None and state.key is None
    # step(state, batch) is step.fn, is step.jit, one momentum-SGD update
    new, metrics = STEP(state, DATA)
    jitted, jit_metrics = STEP.jit(state, DATA)
    assert_trees_close(new, jitted)
    grads = jax.grad(mse_objective)(state.params, DATA)
    assert_trees_close(new.params, jax.tree.map(lambda p, g: p - 0.05 * g, state.params, grads))
    assert float(metrics["loss"]) == pytest.approx(float(mse_objective(state.params, DATA)))
    assert int(new.step) == 1
