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
