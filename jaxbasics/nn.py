"""Flax NNX modules as pure functions, so the one engine trains them too.

``nnx.split`` separates a module into a static graph definition and a pytree of
parameters; ``nnx.merge`` rebuilds the module inside the traced function. The engine then
sees plain ``apply(params, x)`` like every other model (plain ``jax.jit``, no ``nnx.jit``).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
from flax import nnx

from jaxbasics._once import jit_once


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


def stateful(model: nnx.Module) -> tuple[Callable[..., Any], nnx.State, nnx.State]:
    """Return ``(apply, params, model_state)`` for modules with non-parameter state.

    ``apply(params, model_state, *args, train: bool) -> (output, new_model_state)``.
    model_state: every non-``nnx.Param`` variable (``nnx.BatchStat`` running statistics,
    RNG counters for dropout) as an ``nnx.State`` pytree; it goes into the engine's
    ``TrainState.model_state``. ``train`` is explicit in every call: ``True`` is PyTorch's
    ``model.train()`` (batch statistics, running averages updated, dropout on), ``False``
    is ``model.eval()`` (running statistics, state returned unchanged).
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def apply(params: nnx.State, model_state: nnx.State, *args: Any, train: bool,
              **kwargs: Any) -> tuple[Any, nnx.State]:
        # copy=True: fresh Variables in the current trace, so batch-norm statistics can be
        # updated under jax.grad inside jax.jit.
        module = nnx.merge(graphdef, params, model_state, copy=True)
        if train:
            module.train()
        else:
            module.eval()
        out = module(*args, **kwargs)
        _, _, new_state = nnx.split(module, nnx.Param, ...)
        return out, new_state

    return apply, params, rest


def build(make: Callable[[], nnx.Module]) -> nnx.Module:
    """``make()``, with every parameter initialiser run by one compiled program.

    Building a module eagerly compiles one small program per parameter shape (each
    ``nnx.Conv``'s truncated-normal kernel, say); here ``nnx.eval_shape`` gives the
    structure without computing anything and one ``jax.jit`` computes all the values.
    ``make`` must be deterministic (seed its ``nnx.Rngs`` inside), e.g.
    ``build(lambda: MLP(rngs=nnx.Rngs(0)))``.
    """
    graphdef, _ = nnx.split(nnx.eval_shape(make))
    return nnx.merge(graphdef, jit_once(lambda: nnx.state(make()))())


def count_params(params: Any) -> int:
    """Total number of scalars in a parameter pytree (PyTorch's ``sum(p.numel())``)."""
    return int(sum(leaf.size for leaf in jax.tree.leaves(params)))
