"""The linear layer, ``torch.nn.Linear`` as a pure function pair."""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import choice, positive
from jaxbasics._once import jit_once

INITS = ("torch", "kaiming", "normal", "zeros")


def init_linear(key: Array, in_features: int, out_features: int, *, init: str = "torch",
                std: float = 0.01) -> dict[str, Array]:
    """Parameters ``{"w": (out, in), "b": (out,)}`` float32, drawn by one compiled program.

    init: ``'torch'`` is ``nn.Linear``'s default, w and b ~ U(-1/sqrt(in), 1/sqrt(in));
        ``'kaiming'`` is ``nn.init.kaiming_normal_`` (fan_in, gain sqrt(2)): w ~ N(0, 2/in),
        b = 0; ``'normal'`` is ``w ~ N(0, std)``, b = 0 (d2l's std 0.01, the seeds'
        ``torch.randn`` std 1); ``'zeros'`` is all zeros.
    """
    choice("init", init, INITS)
    positive("in_features", in_features, integer=True)
    positive("out_features", out_features, integer=True)
    return _jitted_linear(key, in_features, out_features, init, std)


def draw_linear(key: Array, in_features: int, out_features: int, init: str,
                std: float) -> dict[str, Array]:
    """The draws of :func:`init_linear`, unchecked and traceable (for a larger program)."""
    return draw_linears(key, [(in_features, out_features)], init, std)[0]


def draw_linears(key: Array, layers: Sequence[tuple[int, int]], init: str,
                 std: float) -> list[dict[str, Array]]:
    """:func:`draw_linear` for each ``(in_features, out_features)`` of ``layers``, cut from
    one U(-1, 1) (``'torch'``) or N(0, 1) draw scaled per layer: XLA compiles each
    ``jax.random`` draw apart, so one draw for a whole network compiles several times
    faster than two per layer."""
    if init == "zeros":
        return [{"w": jnp.zeros((o, i)), "b": jnp.zeros((o,))} for i, o in layers]
    torch = init == "torch"
    total = sum(o * i + (o if torch else 0) for i, o in layers)
    z = (jax.random.uniform(key, (total,), minval=-1.0, maxval=1.0) if torch
         else jax.random.normal(key, (total,)))
    params, start = [], 0
    for i, o in layers:
        scale = 1 / math.sqrt(i) if torch else math.sqrt(2.0 / i) if init == "kaiming" else std
        w = scale * z[start:start + o * i].reshape(o, i)
        start += o * i
        b = scale * z[start:start + o] if torch else jnp.zeros((o,))
        start += o if torch else 0
        params.append({"w": w, "b": b})
    return params


_jitted_linear = jit_once(draw_linear, static_argnums=(1, 2, 3, 4))


def apply_linear(params: dict[str, Array], x: Array) -> Array:
    """y = x @ w.T + b; x: (batch, in) -> (batch, out)."""
    return x @ params["w"].T + params["b"]
