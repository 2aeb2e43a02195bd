"""Autograd the JAX way (seed 001 §21-24, seed 002): ``jax.grad`` instead of ``.backward()``.

* seed 001: ``mse = F.mse_loss(torch.ones(1), x*w)`` with x = 1, w = 2 and
  ``torch.autograd.grad(mse, [w])`` -> 2. In JAX there is no ``requires_grad``: one says
  *which argument* to differentiate (``argnums``), and there is no stale graph to rebuild.
* seed 002: x = ones(5), y = zeros(3), w (5, 3), b (3,) random, z = x w + b,
  loss = BCE-with-logits(z, y); ``loss.backward()`` fills w.grad and b.grad. Closed form:
  ∂loss/∂b = (σ(z) - y)/3, ∂loss/∂w = xᵀ(σ(z) - y)/3.
* softmax (seed 001 §30): ∂p_i/∂a_j = p_i(δ_ij - p_j) from ``jax.jacobian``.
* what PyTorch does implicitly: gradients accumulate across ``backward`` calls; in JAX
  grads are values, and the sum of two ``jax.grad`` results is the accumulation; a second
  derivative is ``jax.grad(jax.grad(f))``; ``stop_gradient`` is ``detach``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from jaxbasics import activations, losses
from jaxbasics._once import jit_once


@jit_once
def gradients(key) -> dict:
    """Every gradient of the chapter, computed by one compiled program."""
    # seed 001: d mse(1, x*w) / dw at x = 1, w = 2 is 2·(x·w - 1)·x = 2
    g_w = jax.grad(lambda w: losses.mse(jnp.ones(1), jnp.ones(1) * w))(jnp.array([2.0]))[0]
    # seed 002
    kw, kb = jax.random.split(key)
    x, y = jnp.ones(5), jnp.zeros(3)
    w, b = jax.random.normal(kw, (5, 3)), jax.random.normal(kb, (3,))

    def loss(w, b):
        return losses.bce_with_logits(x @ w + b, y)

    gw, gb = jax.grad(loss, argnums=(0, 1))(w, b)
    r = (jax.nn.sigmoid(x @ w + b) - y) / 3
    closed_gap = jnp.maximum(jnp.max(jnp.abs(gb - r)), jnp.max(jnp.abs(gw - jnp.outer(x, r))))
    # softmax Jacobian
    a = jnp.array([2.0, 1.0, 0.1])
    jac_gap = jnp.max(jnp.abs(jax.jacobian(activations.softmax)(a)
                              - activations.softmax_jacobian(a)))
    return {"dmse/dw": g_w, "bce_grad_closed_form_gap": closed_gap,
            "softmax_jacobian_gap": jac_gap,
            # second derivative of x³ at 2 is 12; stop_gradient blocks the flow like detach()
            "d2(x^3)/dx2 at 2": jax.grad(jax.grad(lambda t: t**3))(2.0),
            "d(x*stop_gradient(x))/dx at 3": jax.grad(lambda t: t * jax.lax.stop_gradient(t))(3.0),
            # accumulation: two backward() calls in PyTorch add up; here, add the two grads
            "accumulated grad at 3": jax.grad(lambda t: t**2)(3.0) + jax.grad(lambda t: 5 * t)(3.0),
            "b.grad": gb}


def body(args) -> _cli.Outcome:
    result = {k: np.asarray(v).tolist() for k, v in gradients(_cli.keys(args.seed, 1)[0]).items()}
    reference = {"dmse/dw": 2.0, "d2(x^3)/dx2 at 2": 12.0, "d(x*stop_gradient(x))/dx at 3": 3.0,
                 "accumulated grad at 3": 11.0}
    ok = (result["dmse/dw"] == 2.0 and result["bce_grad_closed_form_gap"] < 1e-6
          and result["softmax_jacobian_gap"] < 1e-6
          and abs(result["d2(x^3)/dx2 at 2"] - 12) < 1e-5
          and result["d(x*stop_gradient(x))/dx at 3"] == 3.0
          and result["accumulated grad at 3"] == 11.0)
    return _cli.Outcome(result, reference, bool(ok), data_source="none")


def main(argv=None) -> dict:
    return _cli.run("autograd_basics", __doc__, body, argv)


if __name__ == "__main__":
    main()
