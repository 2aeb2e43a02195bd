"""Checkpoints (jaxbasics.checkpoint): exact round trips, a run's directory, clear mismatches."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from _compiles import count_compiles

from jaxbasics import checkpoint, optim
from jaxbasics.checkpoint import CheckpointMismatch, Checkpoints
from jaxbasics.train import TrainState, fit, init_state, make_step

_kx, _kw = jax.random.split(jax.random.key(0))
X = jax.random.normal(_kx, (64, 3))
Y = X @ jnp.asarray([1.0, -2.0, 0.5]) + 0.3
DATA = (X, Y)
BATCH = 16  # 4 batches per epoch


def objective(params, batch):
    x, y = batch
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


STEP = make_step(objective, optim.make("adam", 0.05))


def params(seed=0):
    return {"w": jax.random.normal(jax.random.key(seed), (3,)), "b": jnp.zeros(())}


def state(seed=0, key_seed=0):
    """A TrainState with everything: Adam's nested state, a model_state, a typed key."""
    return init_state(params(seed), STEP, model_state={"count": jnp.asarray(seed, jnp.int32)},
                      key=jax.random.key(key_seed))


def leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
                       else x) for x in jax.tree.leaves(tree)]


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert x.dtype == y.dtype and x.shape == y.shape
    for x, y in zip(leaves(a), leaves(b)):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------------------
# save / restore of one pytree


def test_save_restore_round_trips_a_pytree_bit_for_bit(tmp_path):
    k = jax.random.split(jax.random.key(1), 4)
    tree = {
        "f32": jax.random.normal(k[0], (3, 4)),
        "nested": {"i32": jnp.arange(5, dtype=jnp.int32),
                   "bf16": jax.random.normal(k[1], (2, 2)).astype(jnp.bfloat16)},
        "pair": (jnp.asarray(2.5), jnp.ones(2, jnp.uint8)),
        "list": [jax.random.uniform(k[2], (7,))],
        "key": jax.random.key(42),
        "rbg": jax.random.key(7, impl="rbg"),
    }
    path = checkpoint.save(tmp_path / "tree", tree)
    assert path == (tmp_path / "tree").absolute() and path.is_dir()
    template = jax.tree.map(lambda x: x if jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
                            else jnp.zeros_like(x), tree)
    template["key"], template["rbg"] = jax.random.key(0), jax.random.key(0, impl="rbg")
    got = checkpoint.restore(path, template)
    assert_trees_equal(got, tree)
    assert jax.random.key_impl(got["key"]) == jax.random.key_impl(tree["key"])
    assert jax.random.key_impl(got["rbg"]) == jax.random.key_impl(tree["rbg"])
    np.testing.assert_array_equal(jax.random.normal(got["key"], (3,)),
                                  jax.random.normal(tree["key"], (3,)))


def test_save_replaces_an_existing_checkpoint(tmp_path):
    checkpoint.save(tmp_path / "p", {"w": jnp.ones(2)})
    checkpoint.save(tmp_path / "p", {"w": jnp.full(2, 3.0)})
    np.testing.assert_array_equal(checkpoint.restore(tmp_path / "p", {"w": jnp.zeros(2)})["w"],
                                  [3.0, 3.0])


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    # "a crash mid-save leaves the previous checkpoints intact" (the module's docstring)
    checkpoint.save(tmp_path / "c", {"w": jnp.ones(2)})

    async def disk_full(self, directory, *args, **kwargs):
        # fail once Orbax has made its temporary directory (made in the background: failing
        # earlier leaves that thread logging an error while pytest reports)
        if hasattr(directory, "await_creation"):
            await directory.await_creation()
        raise OSError("disk full")

    monkeypatch.setattr(ocp.StandardCheckpointHandler, "async_save", disk_full)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(tmp_path / "c", {"w": jnp.zeros(2)})
    monkeypatch.undo()
    np.testing.assert_array_equal(checkpoint.restore(tmp_path / "c", {"w": jnp.zeros(2)})["w"],
                                  [1.0, 1.0])


def test_restore_from_nowhere(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.restore(tmp_path / "nothing", {"w": jnp.zeros(2)})


@pytest.mark.parametrize("template, message", [
    ({"w": jnp.zeros((4, 2)), "layer": {"b": jnp.zeros(2)}},
     r"entry w in .* has shape \(3, 2\); the template expects \(4, 2\)"),
    ({"w": jnp.zeros((3, 2), jnp.int32), "layer": {"b": jnp.zeros(2)}},
     r"entry w in .* has dtype float32; the template expects int32"),
    ({"w": jnp.zeros((3, 2)), "layer": {"b": jnp.zeros(2), "c": jnp.zeros(1)}},
     r"has no entry layer\.c; the template expects it"),
    ({"w": jnp.zeros((3, 2))},
     r"has entry layer\.b that the template does not have \(1 unexpected in all\)"),
    ({"w": jnp.zeros((3, 2)), "layer": {"b": jnp.zeros(3)}},
     r"entry layer\.b in .* has shape \(2,\); the template expects \(3,\)"),
])
def test_mismatch_names_the_entry(tmp_path, template, message):
    path = checkpoint.save(tmp_path / "m", {"w": jnp.zeros((3, 2)), "layer": {"b": jnp.zeros(2)}})
    with pytest.raises(CheckpointMismatch, match=message):
        checkpoint.restore(path, template)


def test_key_of_another_implementation_is_a_mismatch(tmp_path):
    path = checkpoint.save(tmp_path / "k", {"key": jax.random.key(1, impl="rbg")})
    with pytest.raises(CheckpointMismatch, match=r"entry key .* has shape \(4,\); the template "
                                                 r"expects \(2,\)"):
        checkpoint.restore(path, {"key": jax.random.key(0)})


# --------------------------------------------------------------------------------------
# Checkpoints: a run's directory


def test_train_state_round_trips_onto_a_fresh_template(tmp_path):
    trained, _ = fit(STEP, state(), DATA, epochs=2, batch_size=BATCH, key=jax.random.key(1))
    with Checkpoints(tmp_path / "run") as saved:
        assert saved.save(trained) == 8
        got = saved.restore(state(seed=5, key_seed=9))  # other values, same structure
    assert isinstance(got, TrainState)
    assert_trees_equal(got, trained)
    assert int(got.step) == 8 and int(got.opt_state[0].count) == 8
    assert jax.random.key_impl(got.key) == jax.random.key_impl(trained.key)
    assert sorted(os.listdir(tmp_path / "run")) == ["8"]  # no temporary left behind


def test_state_without_key_or_model_state_round_trips(tmp_path):
    plain = init_state(params(3), STEP)
    with Checkpoints(tmp_path / "run") as saved:
        saved.save(plain)
        got = saved.restore(init_state(params(4), STEP))
    assert got.key is None and got.model_state is None
    assert_trees_equal(got, plain)


def test_keep_only_the_newest(tmp_path):
    base = state()
    with Checkpoints(tmp_path / "run", keep=2) as saved:
        assert saved.steps == [] and saved.latest_step() is None
        for step in (1, 2, 3, 4):
            saved.save(base._replace(step=jnp.asarray(step, jnp.int32),
                                     params={"w": jnp.full(3, float(step)), "b": jnp.zeros(())}))
        assert saved.steps == [3, 4] and saved.latest_step() == 4
        assert sorted(os.listdir(tmp_path / "run")) == ["3", "4"]
        newest = saved.restore(base)
        older = saved.restore(base, step=3)
        with pytest.raises(FileNotFoundError, match=r"no checkpoint at step 1 .*saved steps: "
                                                    r"\[3, 4\]"):
            saved.restore(base, step=1)
    assert int(newest.step) == 4 and float(newest.params["w"][0]) == 4.0
    assert int(older.step) == 3 and float(older.params["w"][0]) == 3.0
    # a new Checkpoints on the same directory goes on with it
    with Checkpoints(tmp_path / "run", keep=2) as again:
        assert again.steps == [3, 4]
        again.save(base._replace(step=jnp.asarray(5, jnp.int32)))
        assert again.steps == [4, 5]


def test_restore_with_no_checkpoint(tmp_path):
    with Checkpoints(tmp_path / "empty") as saved:
        with pytest.raises(FileNotFoundError, match="no checkpoint in .*saved steps: \\[\\]"):
            saved.restore(state())


def test_every_other_epoch_as_on_epoch(tmp_path):
    with Checkpoints(tmp_path / "run", every=2, keep=5) as saved:
        final, history = fit(STEP, state(), DATA, epochs=5, batch_size=BATCH,
                             key=jax.random.key(1), on_epoch=saved)
        assert saved.steps == [8, 16]  # after epochs 1 and 3 (0-based), 4 steps each
        assert history.epochs == [{}, {"checkpoint": 8}, {}, {"checkpoint": 16}, {}]
        at_16 = saved.restore(state(seed=1))
    assert int(final.step) == 20 and int(at_16.step) == 16
    again, _ = fit(STEP, at_16, DATA, epochs=1, batch_size=BATCH, key=jax.random.key(1))
    assert_trees_equal(again, final)  # epoch 4 from the checkpoint is the run's epoch 4


def test_checkpoints_mismatch_names_the_entry(tmp_path):
    other = init_state({"w": jnp.zeros(4), "b": jnp.zeros(())}, STEP,
                       model_state={"count": jnp.zeros((), jnp.int32)}, key=jax.random.key(0))
    with Checkpoints(tmp_path / "run") as saved:
        saved.save(state())
        with pytest.raises(CheckpointMismatch, match=r"entry params\.w in .*run/0 has shape "
                                                     r"\(3,\); the template expects \(4,\)"):
            saved.restore(other)
        with pytest.raises(CheckpointMismatch, match=r"has entry model_state\.count that the "
                                                     r"template does not have"):
            saved.restore(init_state(params(), STEP, key=jax.random.key(0)))


@pytest.mark.parametrize("kwargs, error", [
    ({"every": 0}, ValueError), ({"keep": 0}, ValueError), ({"every": 1.5}, TypeError)])
def test_bad_arguments(tmp_path, kwargs, error):
    with pytest.raises(error, match=f"{next(iter(kwargs))} must be a positive integer"):
        Checkpoints(tmp_path / "run", **kwargs)


@pytest.mark.parametrize("mode", ["jit", "fused"])
def test_fit_from_a_restored_state_compiles_nothing(tmp_path, mode):
    # The restored state has the template's shapes and dtypes: the step's programs, compiled
    # by the fit that saved it, serve the resumed fit as they serve a fresh state. (A Step
    # of its own, so that no other test has compiled its programs for other arguments.)
    step = make_step(objective, optim.make("sgd", 0.05))
    args = dict(epochs=1, batch_size=BATCH, key=jax.random.key(1), mode=mode)
    first, _ = fit(step, init_state(params(0), step, key=jax.random.key(0)), DATA, **args)
    with Checkpoints(tmp_path / "run") as saved:
        saved.save(first)
        restored = saved.restore(init_state(params(2), step, key=jax.random.key(2)))
    with count_compiles() as fresh:
        fit(step, init_state(params(3), step, key=jax.random.key(3)), DATA, **args)
    assert fresh.count == 0, fresh
    with count_compiles() as resumed:
        fit(step, restored, DATA, **args)
    assert resumed.count == 0, resumed


def test_ctrl_c_during_a_save_is_raised_once_the_checkpoint_is_complete(tmp_path, monkeypatch):
    """SIGINT arriving in the middle of Orbax's save (here: as it starts writing) does not
    tear the checkpoint: the save completes, then KeyboardInterrupt is raised; saving the
    same step again leaves it as it is."""
    import signal
    trained, _ = fit(STEP, state(), DATA, epochs=1, batch_size=BATCH, key=jax.random.key(1))
    with Checkpoints(tmp_path / "run") as saved:
        real_save = saved._manager.save

        def interrupted_save(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the write begins
            return real_save(*args, **kwargs)
        monkeypatch.setattr(saved._manager, "save", interrupted_save)
        with pytest.raises(KeyboardInterrupt):
            saved.save(trained)
        assert saved.steps == [4]  # complete, not a temporary directory
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        monkeypatch.setattr(saved._manager, "save", real_save)
        assert saved.save(trained) == 4  # the same step again: kept as it is
        assert_trees_equal(saved.restore(state(seed=5)), trained)
    assert sorted(os.listdir(tmp_path / "run")) == ["4"]
