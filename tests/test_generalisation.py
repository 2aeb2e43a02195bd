"""Section C mechanisms: penalties, splits, early stopping, dropout, schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbasics import callbacks, losses, optim, regularizers, schedules
from jaxbasics.data import kfold_indices, split_indices, train_val_split
from jaxbasics.dropout import dropout
from jaxbasics.train import fit, init_state, make_step


def _linear_problem(n=64, d=5, seed=0):
    kx, kw = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (n, d))
    y = x @ jax.random.normal(kw, (d, 1)) + 0.3
    params = {"w": jnp.full((d, 1), 0.5), "b": jnp.zeros((1,))}

    def objective(p, batch):
        xb, yb = batch
        return losses.mse(xb @ p["w"] + p["b"], yb)
    return objective, params, (x, y)


# (a) regularizers

def test_penalties_values():
    params = {"a": jnp.array([1.0, -2.0]), "b": {"c": jnp.array([[3.0]])}}
    assert float(regularizers.l1_penalty(params)) == 6.0
    assert float(regularizers.l2_penalty(params)) == 14.0
    assert float(regularizers.l2_penalty(params, regularizers.weights_only)) == 9.0
    obj = regularizers.regularized(lambda p, b: jnp.zeros(()), l1=0.5, l2=2.0)
    assert float(obj(params, None)) == pytest.approx(0.5 * 6 + 0.5 * 2.0 * 14)
    aux_obj = regularizers.regularized(lambda p, b: (jnp.ones(()), {"m": 1}), l2=1.0)
    loss, aux = aux_obj(params, None)
    assert float(loss) == 8.0 and aux == {"m": 1}


def test_l1_gradient_is_zero_at_zero_as_torch():
    # PyTorch's w.abs().sum() has gradient sign(w): a zero-initialised bias stays at 0.
    grads = jax.grad(regularizers.l1_penalty)({"b": jnp.zeros(2), "w": jnp.array([0.0, -3.0])})
    np.testing.assert_array_equal(grads["b"], [0.0, 0.0])
    np.testing.assert_array_equal(grads["w"], [0.0, -1.0])


def test_penalty_errors():
    with pytest.raises(ValueError, match="l2"):
        regularizers.regularized(lambda p, b: 0.0, l2=-1.0)
    with pytest.raises(TypeError, match="l1"):
        regularizers.regularized(lambda p, b: 0.0, l1="big")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_penalty_equals_sgd_weight_decay(momentum):
    objective, params, data = _linear_problem()
    wd, lr = 0.05, 0.1
    a = make_step(regularizers.regularized(objective, l2=wd), optim.make("sgd", lr,
                                                                        momentum=momentum))
    tx_b = optim.make("sgd", lr, momentum=momentum, weight_decay=wd)
    b = make_step(objective, tx_b)
    sa, _ = fit(a, init_state(params, a), data, epochs=20, batch_size=16)
    sb, _ = fit(b, init_state(params, b), data, epochs=20, batch_size=16)
    for u, v in zip(jax.tree.leaves(sa.params), jax.tree.leaves(sb.params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    # and the decay really acted: the unpenalised run ends elsewhere
    c = make_step(objective, optim.make("sgd", lr, momentum=momentum))
    sc, _ = fit(c, init_state(params, c), data, epochs=20, batch_size=16)
    assert float(jnp.abs(sc.params["w"] - sa.params["w"]).max()) > 1e-3


def test_fraction_small():
    assert regularizers.fraction_small({"w": jnp.array([0.0, 1e-4, 0.5, 2.0])}) == 0.5


# (b) splits

def test_split_indices_disjoint_and_sized():
    a, b = split_indices(10, 0.3, jax.random.key(0))
    assert len(a) == 3 and len(b) == 7
    assert sorted(np.concatenate([a, b]).tolist()) == list(range(10))
    a2, _ = split_indices(10, 0.3, jax.random.key(0))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(split_indices(4, 0.5)[0], [0, 1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_split_fraction_errors(fraction):
    with pytest.raises(ValueError, match="fraction"):
        split_indices(10, fraction)


def test_split_empty_part_error():
    with pytest.raises(ValueError, match="empty"):
        split_indices(3, 0.1)


def test_train_val_split_pytree():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    (xt, yt), (xv, yv) = train_val_split((x, y), 0.2, jax.random.key(1))
    assert xt.shape == (8, 2) and xv.shape == (2, 2)
    np.testing.assert_array_equal(xt[:, 0] // 2, yt)
    assert set(yt.tolist()) | set(yv.tolist()) == set(range(10))


def test_kfold_partition():
    folds = kfold_indices(11, 3, jax.random.key(0))
    vals = [v for _, v in folds]
    assert [len(v) for v in vals] == [4, 4, 3]
    assert sorted(np.concatenate(vals).tolist()) == list(range(11))
    for tr, v in folds:
        assert not set(tr.tolist()) & set(v.tolist()) and len(tr) + len(v) == 11
    again = kfold_indices(11, 3, jax.random.key(0))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))


@pytest.mark.parametrize("n,k,match", [(10, 1, "k must be >= 2"), (3, 4, r"k \(4\) must not"),
                                       (10, 0, "k must be >= 2")])
def test_kfold_errors(n, k, match):
    with pytest.raises(ValueError, match=match):
        kfold_indices(n, k)


# (c) callbacks

def _scripted(values):
    """A callback evaluation that returns the scripted val loss of each epoch."""
    it = iter(values)
    return lambda state: {"loss": next(it)}


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_early_stopping_restores_best(mode):
    objective, params, data = _linear_problem()
    tx = optim.make("sgd", 0.01)
    stopper = callbacks.EarlyStopping(_scripted([5.0, 3.0, 2.0, 2.5, 2.1, 2.2, 9, 9, 9]),
                                      patience=3)
    step = make_step(objective, tx)
    state, hist = fit(step, init_state(params, step), data, epochs=9,
                      batch_size=16, on_epoch=stopper, mode=mode)
    assert hist.stopped_early and len(hist.epochs) == 6
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 5
    best = stopper.restore(state)
    assert int(best.step) == 3 * 4 and int(state.step) == 6 * 4
    assert hist.epochs[2]["improved"] and hist.epochs[4]["best_epoch"] == 2
    assert hist.epochs[5]["stop"] and hist.epochs[1]["val_loss"] == 3.0


def test_monitor_max_mode_and_chain():
    mon = callbacks.Monitor(_scripted([0.1, 0.5, 0.4]), monitor="loss", mode="max")
    stop = callbacks.EarlyStopping(_scripted([1.0, 1.0, 1.0]), patience=1, prefix="t_")
    cb = callbacks.chain(mon, stop)
    assert "stop" not in cb(0, None)
    logs = cb(1, None)
    assert logs["stop"] and logs["t_loss"] == 1.0 and logs["val_loss"] == 0.5
    assert mon.best_epoch == 1


def test_callback_errors():
    with pytest.raises(ValueError, match="patience"):
        callbacks.EarlyStopping(lambda s: {}, patience=0)
    with pytest.raises(ValueError, match="mode"):
        callbacks.Monitor(lambda s: {}, mode="best")
    with pytest.raises(KeyError, match="accuracy"):
        callbacks.Monitor(lambda s: {"loss": 1.0}, monitor="accuracy")(0, None)


# (d) dropout

def test_dropout_inverted_scaling_and_eval_identity():
    x = jnp.ones((200, 500))
    y = dropout(x, 0.2, jax.random.key(0))
    kept = np.asarray(y) != 0
    assert abs(kept.mean() - 0.8) < 0.01
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.8, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert dropout(x, 0.5, None, train=False) is x
    assert dropout(x, 0.0, jax.random.key(0)) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rate_errors(p):
    with pytest.raises(ValueError, match="p"):
        dropout(jnp.ones(3), p, jax.random.key(0))


def test_traced_rate_is_the_constant_rate():
    # A rate read from the state (one program for every rate) draws the same mask as the
    # same rate compiled in and scales alike (to the last bit: XLA may turn a division by
    # a constant into a product); a traced 0 keeps every entry unchanged.
    x = jax.random.normal(jax.random.key(0), (64, 32))
    key = jax.random.key(1)
    traced = jax.jit(lambda p: dropout(x, p, key))
    for p in (0.2, 0.5):
        got, want = traced(np.float32(p)), jax.jit(lambda: dropout(x, p, key))()
        np.testing.assert_array_equal(got != 0, want != 0)
        assert 0.4 < float(jnp.mean(got != 0)) < 0.9
        np.testing.assert_allclose(got, want, rtol=2.5e-7, atol=0)
    np.testing.assert_array_equal(traced(np.float32(0.0)), x)
    assert traced._cache_size() == 1
    with pytest.raises(TypeError, match="p"):
        jax.jit(lambda p: dropout(x, p, key))(np.ones(2, np.float32))


def test_dropout_needs_key():
    with pytest.raises(ValueError, match="key"):
        dropout(jnp.ones(3), 0.5, None)


def test_dropout_key_comes_from_engine():
    """Each step of a stateful objective gets a different mask; the key is reproducible."""
    def objective(p, batch, model_state, key):
        h = dropout(jnp.ones((1, 64)), 0.5, key)
        return jnp.sum(h * p), (model_state, {"kept": jnp.sum(h != 0)})
    tx = optim.make("sgd", 0.0 + 1e-9)
    step = make_step(objective, tx, stateful=True)
    state = init_state(jnp.ones((1, 64)), step, key=jax.random.key(3))
    _, h1 = fit(step, state, None, epochs=5)
    _, h2 = fit(step, state, None, epochs=5)
    kept = h1.steps["kept"]
    np.testing.assert_array_equal(kept, h2.steps["kept"])
    assert len(set(kept.tolist())) > 1


# (e) schedules

def test_step_decay_staircase():
    sched = schedules.step_decay(0.1, step_size=2, gamma=0.5, steps_per_epoch=3)
    got = [float(sched(s)) for s in range(0, 18, 3)]
    np.testing.assert_allclose(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=1e-6)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        schedules.step_decay(0.1, 2, gamma=0.0)
    grows = schedules.step_decay(0.1, 2, gamma=1.5)  # StepLR allows it
    np.testing.assert_allclose([float(grows(s)) for s in (0, 2, 4)], [0.1, 0.15, 0.225], rtol=1e-6)


def test_plateau_lowers_scale_through_engine():
    # A constant objective never improves: after patience steps the scale drops.
    tx = schedules.with_plateau(optim.make("sgd", 0.1), factor=0.5, patience=2)
    step = make_step(lambda p, b: jnp.sum(p * 0.0) + 1.0, tx)
    state, _ = fit(step, init_state(jnp.ones(3), step), None, epochs=10)
    assert schedules.plateau_scale(state.opt_state) < 1.0
    objective, params, data = _linear_problem()
    tx2 = schedules.with_plateau(optim.make("sgd", 0.05), factor=0.5, patience=5)
    step2 = make_step(objective, tx2)
    s2, _ = fit(step2, init_state(params, step2), data, epochs=5,
                batch_size=16)
    assert schedules.plateau_scale(s2.opt_state) == 1.0  # improving loss: no cut
    with pytest.raises(ValueError, match="factor"):
        schedules.with_plateau(optim.make("sgd", 0.1), factor=1.0)


def test_mlp_dropout_train_vs_eval():
    from jaxbasics.models import apply_mlp, init_mlp
    params = init_mlp(jax.random.key(0), (8, 16, 3))
    x = jax.random.normal(jax.random.key(1), (4, 8))
    ev = apply_mlp(params, x, p=0.5, key=jax.random.key(2))
    np.testing.assert_array_equal(ev, apply_mlp(params, x))  # train=False: no dropout
    a = apply_mlp(params, x, p=0.5, key=jax.random.key(2), train=True)
    b = apply_mlp(params, x, p=0.5, key=jax.random.key(3), train=True)
    assert not np.allclose(a, b) and not np.allclose(a, ev)
    leaky = apply_mlp(params, x, activation=jax.nn.leaky_relu)
    assert leaky.shape == (4, 3) and not np.allclose(leaky, ev)
