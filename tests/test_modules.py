"""The modules experiment, nn.stateful and checkpoints."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from experiments import modules
from jaxbasics import checkpoint
from jaxbasics.nn import count_params, functional, stateful
from jaxbasics.train import init_state, make_step


def test_modules_quick(tmp_path):
    m = modules.main(["--quick", "--out", str(tmp_path)])
    assert m["ok"]
    r = m["result"]
    assert r["num_parameters"] == 23  # Linear(4,3) 15 + Linear(3,2) 8
    assert r["named_parameters"] == {"net.layers.0.net.bias": [3], "net.layers.0.net.kernel": [4, 3],
                                     "net.layers.2.bias": [2], "net.layers.2.kernel": [3, 2]}
    assert r["num_children"] == 1 and r["num_modules"] == 6
    assert r["save_load_identical_outputs"] and r["resume_same_loss_curve"]
    assert r["resume_same_final_params"]


def test_mylinear_and_flatten():
    lin = modules.MyLinear(5, 2, rngs=nnx.Rngs(0))
    x = jnp.arange(10.0).reshape(2, 5)
    np.testing.assert_allclose(lin(x), x @ lin.w[...] + lin.b[...])
    assert count_params(functional(lin)[1]) == 12
    assert modules.Flatten()(jnp.zeros((3, 2, 4, 5))).shape == (3, 40)


def test_stateful_batchnorm_train_vs_eval():
    bn = nnx.BatchNorm(2, momentum=0.9, rngs=nnx.Rngs(0))
    apply, params, state = stateful(bn)
    x = jnp.array([[1.0, 2.0], [3.0, 6.0]])
    y, new = apply(params, state, x, train=True)
    # PyTorch momentum 0.1: running = 0.9 * running + 0.1 * batch_mean
    np.testing.assert_allclose(new["mean"][...], 0.1 * np.array([2.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-6)
    y_eval, same = apply(params, new, x, train=False)
    np.testing.assert_array_equal(same["mean"][...], new["mean"][...])
    np.testing.assert_allclose(y_eval, (x - new["mean"][...]) / np.sqrt(new["var"][...] + 1e-5),
                               rtol=1e-5)


# init_state takes the Step (it carries the optimizer); its objective is not called here.
STEP = make_step(lambda params, batch: jnp.zeros(()), optax.adam(1e-3))


def _state(seed=0, key=3):
    _, params = functional(modules.Net(rngs=nnx.Rngs(seed)))
    return init_state(params, STEP, key=jax.random.key(key))


def test_checkpoint_round_trip_bit_for_bit(tmp_path):
    state = _state()
    with checkpoint.Checkpoints(tmp_path / "run") as saved:
        saved.save(state)
        got = saved.restore(_state(seed=9, key=0))
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(got.params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jax.random.key_data(got.key), jax.random.key_data(state.key))
    assert os.listdir(tmp_path / "run") == ["0"]  # no temporary left behind


def test_checkpoint_mismatch_names_entry(tmp_path):
    path = checkpoint.save(tmp_path / "b", {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)})
    with pytest.raises(checkpoint.CheckpointMismatch, match=r"entry w .*shape \(3, 2\).*\(4, 2\)"):
        checkpoint.restore(path, {"w": jnp.zeros((4, 2)), "b": jnp.zeros(2)})
    with pytest.raises(checkpoint.CheckpointMismatch, match=r"no entry c\b"):
        checkpoint.restore(path, {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2), "c": jnp.zeros(1)})
    with pytest.raises(checkpoint.CheckpointMismatch, match=r"entry b that the template"):
        checkpoint.restore(path, {"w": jnp.zeros((3, 2))})
    with pytest.raises(checkpoint.CheckpointMismatch, match="dtype"):
        checkpoint.restore(path, {"w": jnp.zeros((3, 2), jnp.int32), "b": jnp.zeros(2)})
