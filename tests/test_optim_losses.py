"""Optimizers built by name, the hand-written SGD, and the first losses."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxbasics import losses, optim


def _run(tx, steps=20):
    params = {"a": jnp.array([1.0, -2.0, 3.0]), "b": jnp.array(0.5)}
    f = lambda p: jnp.sum(p["a"] ** 2 * jnp.arange(1.0, 4.0)) + (p["b"] - 1) ** 4  # noqa: E731
    state = tx.init(params)
    for _ in range(steps):
        updates, state = tx.update(jax.grad(f)(params), state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_minibatch_sgd_is_sgd_with_lr_over_batch():
    a = _run(optim.minibatch_sgd(0.03, 10))
    b = _run(optax.sgd(0.003))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_sgd_momentum_matches_pytorch_recursion():
    # PyTorch: buf = m * buf + g; p -= lr * buf.
    tx = optim.make("sgd", 0.1, momentum=0.9)
    p, buf = 2.0, 0.0
    params, state = jnp.array(2.0), tx.init(jnp.array(2.0))
    for _ in range(5):
        g = 2 * p
        buf = 0.9 * buf + g
        p = p - 0.1 * buf
        updates, state = tx.update(2 * params, state, params)
        params = params + updates
    np.testing.assert_allclose(params, p, rtol=1e-6)


def test_sgd_weight_decay_is_coupled_l2():
    tx = optim.make("sgd", 0.1, weight_decay=0.5)
    updates, _ = tx.update(jnp.array(1.0), tx.init(jnp.array(2.0)), jnp.array(2.0))
    np.testing.assert_allclose(updates, -0.1 * (1.0 + 0.5 * 2.0))


def test_rmsprop_eps_outside_sqrt_like_pytorch():
    tx = optim.make("rmsprop", 0.01, alpha=0.99, eps=1e-2)
    updates, _ = tx.update(jnp.array(0.1), tx.init(jnp.array(0.0)), jnp.array(0.0))
    v = 0.01 * 0.1**2
    np.testing.assert_allclose(updates, -0.01 * 0.1 / (np.sqrt(v) + 1e-2), rtol=1e-6)


@pytest.mark.parametrize("name", [n for n in optim.OPTIMIZERS if n != "lbfgs"])  # lbfgs: test_losses.py
def test_every_optimizer_descends(name):
    params = _run(optim.make(name, 0.05), steps=50)
    assert float(jnp.sum(params["a"] ** 2)) < 14.0


@pytest.mark.parametrize("call, message", [
    (lambda: optim.make("adagradx", 0.1), "optimizer must be one of"),
    (lambda: optim.make("adam", -1e-3), r"learning_rate must be >= 0; got -0.001"),
    (lambda: optim.make("adam", 0.1, eps=-1.0), r"eps must be >= 0; got -1.0"),
    (lambda: optim.make("adamw", 0.1, b1=1.5), r"b1 must be in \[0, 1\) \(torch: betas\)"),
    (lambda: optim.make("adam", 0.1, b2=1.0), r"b2 must be in \[0, 1\)"),
    (lambda: optim.make("sgd", 0.1, momentum="0.9"), "momentum must be a number; got '0.9'"),
    (lambda: optim.make("rmsprop", 0.1, alpha=-0.5), "alpha must be >= 0"),
    (lambda: optim.minibatch_sgd(0.03, 0), "batch_size must be a positive integer"),
])
def test_bad_optimizer_arguments(call, message):
    # torch.optim's checks: lr, eps >= 0, betas in [0, 1) ("Invalid beta parameter")
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_a_zero_learning_rate_is_accepted_as_torch_does():
    tx, p = optim.make("sgd", 0.0, momentum=0.9), {"a": jnp.ones(2)}
    updates, _ = tx.update({"a": jnp.full(2, 3.0)}, tx.init(p), p)
    np.testing.assert_array_equal(updates["a"], [0.0, 0.0])


def test_mse_l1_reductions():
    a, b = jnp.array([1.0, 2.0, 4.0]), jnp.array([0.0, 2.0, 1.0])
    assert float(losses.mse(a, b)) == pytest.approx(10 / 3)
    assert float(losses.mse(a, b, "sum")) == pytest.approx(10)
    np.testing.assert_allclose(losses.l1(a, b, "none"), [1, 0, 3])
    assert float(losses.l1(a, b)) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="same shape"):
        losses.mse(jnp.ones((4, 1)), jnp.ones(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.mse(a, b, "avg")


def test_float_class_indices_are_named_as_such():
    with pytest.raises(TypeError, match=r"class-index labels must be integers; got float32 "
                                        r"labels of shape \(4,\)"):
        losses.cross_entropy(jnp.zeros((4, 3)), jnp.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="probability labels must have the shape of logits"):
        losses.cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4, 2)))
