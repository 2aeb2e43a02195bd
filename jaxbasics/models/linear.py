"""The linear layer, ``torch.nn.Linear`` as a pure function pair."""

from __future__ import annotations

import math

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
    kw, kb = jax.random.split(key)
    if init == "torch":
        bound = 1 / math.sqrt(in_features)
        w = jax.random.uniform(kw, (out_features, in_features), minval=-bound, maxval=bound)
        b = jax.random.uniform(kb, (out_features,), minval=-bound, maxval=bound)
    elif init in ("kaiming", "normal"):
        std = math.sqrt(2.0 / in_features) if init == "kaiming" else std
        w = std * jax.random.normal(kw, (out_features, in_features))
        b = jnp.zeros((out_features,))
    else:
        w, b = jnp.zeros((out_features, in_features)), jnp.zeros((out_features,))
    return {"w": w, "b": b}


_jitted_linear = jit_once(draw_linear, static_argnums=(1, 2, 3, 4))


def apply_linear(params: dict[str, Array], x: Array) -> Array:
    """y = x @ w.T + b; x: (batch, in) -> (batch, out)."""
    return x @ params["w"].T + params["b"]
