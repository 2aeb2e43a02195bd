"""nn.Module the NNX way (seed 001, "nn.Module模块"): the course's MyLinear, Flatten,
BasicNet and Net = Sequential(BasicNet(Linear(4, 3)), ReLU, Linear(3, 2)) as Flax NNX
modules; named parameters with shapes, children vs all submodules, the parameter count,
device placement, train/eval, and checkpoints (save -> load -> identical outputs, bit for
bit; resume from an Orbax checkpoint -> the same loss curve as an uninterrupted run).

PyTorch's ``model.to(device)`` is ``jax.device_put(params, device)``; ``model.train()`` /
``model.eval()`` is the explicit ``train=`` argument of ``jaxbasics.nn.stateful``'s apply;
``state_dict``/``load_state_dict`` is ``jaxbasics.checkpoint.save``/``restore``, and a
training run's checkpoints are ``jaxbasics.checkpoint.Checkpoints`` (Orbax).
"""

from __future__ import annotations

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from experiments import _cli
from jaxbasics import checkpoint, losses, metrics
from jaxbasics._once import jit_once
from jaxbasics.nn import build, count_params, functional, stateful
from jaxbasics.train import Step, fit, init_state, make_step


class MyLinear(nnx.Module):
    """The course's ``MyLinear(inp, outp)``: ``x @ w + b``, w (inp, outp) and b (outp,)
    drawn from N(0, 1) (PyTorch stores w as (outp, inp) and computes ``x @ w.t()``)."""

    def __init__(self, inp: int, outp: int, *, rngs: nnx.Rngs):
        self.w = nnx.Param(jax.random.normal(rngs.params(), (inp, outp)))
        self.b = nnx.Param(jax.random.normal(rngs.params(), (outp,)))

    def __call__(self, x):
        """x: (b, inp) float32 -> (b, outp)."""
        return x @ self.w[...] + self.b[...]


class Flatten(nnx.Module):
    """The course's ``Flatten``: (b, ...) -> (b, prod(...)), no parameters."""

    def __call__(self, x):
        return x.reshape(x.shape[0], -1)


class BasicNet(nnx.Module):
    """``BasicNet``: one ``Linear(4, 3)`` held as ``self.net``."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.net = nnx.Linear(4, 3, rngs=rngs)

    def __call__(self, x):
        return self.net(x)


class Net(nnx.Module):
    """``Net``: ``self.net = Sequential(BasicNet(), ReLU(), Linear(3, 2))``; (b, 4) -> (b, 2)."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.net = nnx.Sequential(BasicNet(rngs=rngs), nnx.relu, nnx.Linear(3, 2, rngs=rngs))

    def __call__(self, x):
        return self.net(x)


def named_parameters(params) -> dict[str, tuple[int, ...]]:
    """PyTorch-style dotted names -> shapes, e.g. ``net.layers.0.net.kernel: (4, 3)``."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        parts = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
        parts = [p for p in parts if p != "value"]
        out[".".join(parts)] = tuple(leaf.shape)
    return out


def module_tree(model: nnx.Module) -> tuple[list[str], list[str]]:
    """(children, all modules): direct children's names, every submodule's dotted path."""
    children = [f"{name}: {type(m).__name__}" for name, m in nnx.iter_children(model)]
    modules = [(".".join(map(str, path)) or "(root)") + f": {type(m).__name__}"
               for path, m in nnx.iter_modules(model)]
    return children, modules


EPOCHS, BATCH_SIZE, LEARNING_RATE = 4, 32, 1e-2


def make(apply, learning_rate: float = LEARNING_RATE) -> Step:
    """Cross-entropy of Net's ``apply`` on (x: (b, 4) float32, y: (b,) int32), Adam 1e-2."""
    def objective(params, batch):
        x, y = batch
        return losses.cross_entropy(apply(params, x), y)
    return make_step(objective, optax.adam(learning_rate), metrics=metrics.classification(apply))


@jit_once(static_argnums=1)
def toy_data(key, n: int = 512):
    """(x (n, 4) N(0, 1), y (n,) int32 = [x0 + x1 > x2 - x3]): a 2-class problem for Net."""
    x = jax.random.normal(key, (n, 4))
    y = (x[:, 0] + x[:, 1] > x[:, 2] - x[:, 3]).astype(jnp.int32)
    return x, y


def _data_and_key(k_data, k_shuffle):
    """(toy_data from the first key, the second key): with the keys, one program."""
    return toy_data(k_data), k_shuffle


def checkpoint_demo(model: Net, seed: int, out_dir, mode: str, epochs: int = EPOCHS,
                    batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE) -> dict:
    """Train ``model`` (a Net) on shuffled batches, saving an Orbax checkpoint after every
    epoch; restore the one saved halfway onto a template of zeros and resume; compare with
    an uninterrupted run.

    Positions are absolute in the engine (epoch e is shuffled by fold_in(key, e), counted
    from the restored step), so the resumed run sees the same batches and ends bit for bit
    where the uninterrupted one does."""
    data, k_shuffle = _cli.seeded(_data_and_key, seed, 2)
    apply, params = functional(model)
    step = make(apply, learning_rate)
    full, full_hist = fit(step, init_state(params, step), data, epochs=epochs, batch_size=batch_size,
                          key=k_shuffle, mode=mode)

    directory = out_dir / "checkpoints"
    shutil.rmtree(directory, ignore_errors=True)  # a fresh run, not the last one's
    with checkpoint.Checkpoints(directory, every=1, keep=2) as saved:
        half, half_hist = fit(step, init_state(params, step), data, epochs=epochs // 2,
                              batch_size=batch_size, key=k_shuffle, mode=mode, on_epoch=saved)
        # Zeros as the template: nothing but the structure is reused.
        zeros = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), params)
        restored = saved.restore(init_state(zeros, step))
        kept = saved.steps
    x = np.asarray(data[0])[:16]
    predict = jit_once(apply)
    same_outputs = bool(np.array_equal(predict(half.params, x), predict(restored.params, x)))
    resumed, rest_hist = fit(step, restored, data, epochs=epochs - epochs // 2, batch_size=batch_size,
                             key=k_shuffle, mode=mode)
    curve = np.concatenate([half_hist.loss, rest_hist.loss])
    same_curve = bool(np.array_equal(curve, full_hist.loss))
    same_params = all(np.array_equal(a, b) for a, b in
                      zip(jax.tree.leaves(jax.device_get(full.params)),
                          jax.tree.leaves(jax.device_get(resumed.params))))
    return {"save_load_identical_outputs": same_outputs, "resume_same_loss_curve": same_curve,
            "resume_same_final_params": same_params, "steps": int(len(curve)),
            "checkpoints_kept": kept, "final_loss": float(curve[-1]),
            "train_accuracy": step.evaluate(resumed, data)["accuracy"]}


@jit_once(static_argnums=0)
def train_eval_outputs(seed: int):
    """A dropout network built from ``seed`` and its outputs (3, 2) on ones (3, 4): eval
    twice, then train twice (the second from the RNG state the first left); one compiled
    program, the parameters' initialisers in it."""
    model = nnx.Sequential(nnx.Linear(4, 8, rngs=nnx.Rngs(seed)), nnx.relu,
                           nnx.Dropout(0.5, rngs=nnx.Rngs(dropout=seed)),
                           nnx.Linear(8, 2, rngs=nnx.Rngs(seed + 1)))
    apply, params, state = stateful(model)
    x = jnp.ones((3, 4))
    e1, s1 = apply(params, state, x, train=False)
    e2, _ = apply(params, s1, x, train=False)
    t1, s2 = apply(params, state, x, train=True)
    t2, _ = apply(params, s2, x, train=True)
    return e1, e2, t1, t2


def train_eval_demo(seed: int) -> dict:
    """``train()`` vs ``eval()`` with dropout: eval is deterministic and equals the
    no-dropout network; train mode drops units (and advances the dropout RNG state)."""
    e1, e2, t1, t2 = (np.asarray(a) for a in train_eval_outputs(seed))
    return {"eval_deterministic": bool(np.array_equal(e1, e2)),
            "train_differs_from_eval": bool(not np.allclose(t1, e1)),
            "train_calls_differ": bool(not np.allclose(t1, t2))}


def body(args) -> _cli.Outcome:
    model = build(lambda: Net(rngs=nnx.Rngs(args.seed)))
    _, params = functional(model)
    names = named_parameters(params)
    for name, shape in names.items():
        print(f"{name}: {shape}")
    children, modules = module_tree(model)
    print("children:", children)
    print("modules:", modules)
    n_params = count_params(params)
    # Only its parameter count is shown: its structure, traced (no values computed).
    mylinear = nnx.eval_shape(lambda: MyLinear(784, 10, rngs=nnx.Rngs(args.seed)))
    flat = jax.eval_shape(Flatten(), jax.ShapeDtypeStruct((2, 1, 28, 28), jnp.float32))
    device = jax.devices()[0]
    placed = jax.device_put(params, device)
    devices = sorted({str(d) for leaf in jax.tree.leaves(placed) for d in leaf.devices()})
    if args.epochs is not None and args.epochs < 2:
        raise _cli.UsageError(f"argument --epochs: the demo resumes halfway, so at least 2; "
                              f"got {args.epochs}")
    ckpt = checkpoint_demo(model, args.seed, args.out, args.mode, learning_rate=args.lr,
                           epochs=args.epochs or (2 if args.quick else EPOCHS),
                           batch_size=args.batch_size)
    modes = train_eval_demo(args.seed)
    result = {"named_parameters": {k: list(v) for k, v in names.items()},
              "num_parameters": n_params, "num_children": len(children),
              "num_modules": len(modules), "mylinear_parameters": count_params(
                  functional(mylinear)[1]), "flatten_shape": list(flat.shape),
              "devices": devices, **modes, **ckpt}
    reference = {"num_parameters": 4 * 3 + 3 + 3 * 2 + 2, "mylinear_parameters": 784 * 10 + 10,
                 "flatten_shape": [2, 784], "save_load_identical_outputs": True,
                 "resume_same_loss_curve": True, "eval_deterministic": True}
    ok = (n_params == 23 and result["mylinear_parameters"] == 7850 and flat.shape == (2, 784)
          and ckpt["save_load_identical_outputs"] and ckpt["resume_same_loss_curve"]
          and ckpt["resume_same_final_params"] and all(modes.values()))
    return _cli.Outcome(result, reference, bool(ok))


def add_arguments(p) -> None:
    # The checkpoint demonstration saves and resumes by itself (OUT/checkpoints): no
    # --checkpoint-dir / --resume here.
    _cli.add_training_arguments(p, lr=LEARNING_RATE, batch_size=BATCH_SIZE,
                                epochs_help=f"default {EPOCHS} (quick: 2), at least 2 (the "
                                            "demo resumes halfway)", checkpoints=False)


def main(argv=None) -> dict:
    return _cli.run("modules", __doc__, body, argv, default_mode="jit",
                    add_arguments=add_arguments)


if __name__ == "__main__":
    main()
