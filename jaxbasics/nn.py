"""Flax NNX modules as pure functions, so the one engine trains them too.

``nnx.split`` separates a module into a static graph definition and a pytree of
parameters; ``nnx.merge`` rebuilds the module inside the traced function. The engine then
sees plain ``apply(params, x)`` like every other model (plain ``jax.jit``, no ``nnx.jit``).
"""

from __future__ import annotations

from typing import Any, Callable

from flax import nnx


def functional(model: nnx.Module) -> tuple[Callable[..., Any], nnx.State]:
    """Return ``(apply, params)`` with ``apply(params, *args) == model(*args)``.

    params: the model's ``nnx.Param`` variables, an ``nnx.State`` pytree that Optax and
    ``jax.grad`` treat like any dict of arrays. Other variables (batch-norm statistics,
    RNG counters) stay frozen in the returned function.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def apply(params: nnx.State, *args: Any, **kwargs: Any) -> Any:
        return nnx.merge(graphdef, params, rest)(*args, **kwargs)

    return apply, params


def to_module(model: nnx.Module, params: nnx.State) -> nnx.Module:
    """``model`` with its parameters replaced by trained ``params`` (a new module)."""
    graphdef, _, rest = nnx.split(model, nnx.Param, ...)
    return nnx.merge(graphdef, params, rest)


class MLP(nnx.Module):
    """The seed's 784-200-200-10 MLP as an NNX module (``nn.Sequential`` of Linear/ReLU).

    x: (n, 28, 28, 1) or (n, 784) float32 -> logits (n, 10). Kaiming-normal weights (or
    N(0, 1) with ``kaiming=False``), zero biases; relu on the logits as the seed does.
    """

    def __init__(self, sizes=(784, 200, 200, 10), *, kaiming: bool = True,
                 relu_logits: bool = True, rngs: nnx.Rngs):
        init = (nnx.initializers.variance_scaling(2.0, "fan_in", "normal") if kaiming
                else nnx.initializers.normal(1.0))
        self.layers = nnx.List([nnx.Linear(i, o, kernel_init=init, rngs=rngs)
                                for i, o in zip(sizes[:-1], sizes[1:])])
        self.relu_logits = relu_logits

    def __call__(self, x):
        import jax
        h = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1 or self.relu_logits:
                h = jax.nn.relu(h)
        return h
