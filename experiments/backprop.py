"""Backpropagation by hand for a 2-layer MLP, checked against ``jax.grad``.

Model: h = relu(x W1 + b1), logits = h W2 + b2, loss = cross_entropy(logits, y) (mean).
The backward pass written out (the chain rule, layer by layer)::

    dlogits = (softmax(logits) - onehot(y)) / n
    dW2 = hᵀ dlogits          db2 = Σ dlogits
    dh  = dlogits W2ᵀ         dz1 = dh · [z1 > 0]
    dW1 = xᵀ dz1              db1 = Σ dz1

The result is the largest relative difference to ``jax.grad`` over all parameters, and a
few hand-gradient SGD steps run through ``train.fit`` via a custom-gradient objective.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.train import init_state, make_step

N, D, H, C = 64, 10, 32, 4
LEARNING_RATE, STEPS = 0.5, 500


@jit_once(static_argnums=(1, 2, 3))
def init(key, d: int = D, h: int = H, c: int = C):
    """Params {W1 (d, h), b1 (h,), W2 (h, c), b2 (c,)}, float32, scaled 1/sqrt(fan_in)."""
    k1, k2 = jax.random.split(key)
    return {"W1": jax.random.normal(k1, (d, h)) / np.sqrt(d), "b1": jnp.zeros(h),
            "W2": jax.random.normal(k2, (h, c)) / np.sqrt(h), "b2": jnp.zeros(c)}


def forward(params, x):
    """Logits (n, c) and the cache (z1, h) the backward pass needs."""
    z1 = x @ params["W1"] + params["b1"]
    h = jax.nn.relu(z1)
    return h @ params["W2"] + params["b2"], (z1, h)


def loss_fn(params, batch):
    x, y = batch
    return losses.cross_entropy(forward(params, x)[0], y)


def manual_grad(params, batch):
    """The hand backward pass above: a dict of gradients shaped like params."""
    x, y = batch
    logits, (z1, h) = forward(params, x)
    dlogits = (jax.nn.softmax(logits) - jax.nn.one_hot(y, logits.shape[-1])) / x.shape[0]
    dh = dlogits @ params["W2"].T
    dz1 = dh * (z1 > 0)
    return {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": h.T @ dlogits, "b2": dlogits.sum(0)}


@jax.custom_vjp
def hand_loss(params, batch):
    """loss_fn whose derivative is ``manual_grad`` (so train.fit trains on the hand backprop)."""
    return loss_fn(params, batch)


def _fwd(params, batch):
    return loss_fn(params, batch), (params, batch)


def _bwd(res, g):
    params, batch = res
    grads = jax.tree.map(lambda a: g * a, manual_grad(params, batch))
    return grads, jax.tree.map(jnp.zeros_like, batch)


hand_loss.defvjp(_fwd, _bwd)


@jit_once(static_argnums=1)
def data(key, n: int = N):
    """x (n, D) float32; y (n,) int32 from a random linear teacher."""
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, D))
    return x, jnp.argmax(x @ jax.random.normal(kw, (D, C)), axis=-1).astype(jnp.int32)


def _draws(k_params, k_data):
    return init(k_params), data(k_data)


def body(args) -> _cli.Outcome:
    params, batch = _cli.seeded(_draws, args.seed, 2)  # one program draws both
    auto, hand = jax.device_get(jit_once(lambda p, b: (jax.grad(loss_fn)(p, b),
                                                      manual_grad(p, b)))(params, batch))
    gaps = {k: float(np.max(np.abs(auto[k] - hand[k])) / (np.max(np.abs(auto[k])) + 1e-12))
            for k in params}
    steps = args.epochs or (100 if args.quick else STEPS)
    tx = optim.make("sgd", args.lr)
    finals, curves = {}, {}
    for name, objective in (("jax.grad", loss_fn), ("hand backprop", hand_loss)):
        step = make_step(objective, tx)
        state, history = _cli.train(args, step, init_state(params, step), batch, epochs=steps,
                                    name=name.replace(" ", "_").replace(".", "_"),
                                    learning_rate=args.lr)
        finals[name], curves[name] = jax.device_get(state.params), history.loss
    train_gap = max(float(np.max(np.abs(a - b))) for a, b in
                    zip(jax.tree.leaves(finals["jax.grad"]), jax.tree.leaves(finals["hand backprop"])))
    figure = plots.curves(args.out / "loss.png", curves, title=f"2-layer MLP, SGD {args.lr:g}")
    result = {"gradient_relative_gap": gaps, "trained_parameter_gap": train_gap,
              "initial_loss": float(curves["jax.grad"][0]), "final_loss": float(curves["jax.grad"][-1])}
    learns = result["final_loss"] < result["initial_loss"] / 2
    ok = max(gaps.values()) < 1e-5 and train_gap < 1e-4 and learns
    return _cli.Outcome(result, {"gradient_relative_gap": {k: 0.0 for k in params},
                                 "trained_parameter_gap": 0.0}, bool(ok), figures=[figure])


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE,
                                epochs_help=f"full-batch SGD steps, default {STEPS} (quick: 100)")


def main(argv=None) -> dict:
    return _cli.run("backprop", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()
