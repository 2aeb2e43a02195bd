"""Activation functions and their derivatives (seed 001 §28-30): sigmoid, tanh, relu, ...

Each activation from ``jaxbasics.activations`` on [-6, 6] with its closed-form derivative;
the derivative is checked against ``jax.vmap(jax.grad(f))`` and the softmax Jacobian
s_i(δ_ij - s_j) against ``jax.jacobian``. Also the seed's numbers: sigmoid(linspace(-100,
100, 10)) saturates to 0 and 1 and its gradient there vanishes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from jaxbasics import activations as A
from jaxbasics import plots
from jaxbasics._once import jit_once


@jit_once(static_argnums=0)
def compute(points: int) -> dict:
    """Every activation and derivative on [-6, 6] (``points`` values), and the seed's
    numbers, by one compiled program."""
    xs = jnp.linspace(-6.0, 6.0, points)
    z = jnp.array([1.0, 2.0, 3.0])
    far = jnp.linspace(-100.0, 100.0, 10)
    return {"xs": xs,
            "f": {n: f(xs) for n, f in A.ACTIVATIONS.items()},
            "d": {n: d(xs) for n, d in A.DERIVATIVES.items()},
            "grad": {n: jax.vmap(jax.grad(f))(xs) for n, f in A.ACTIVATIONS.items()},
            "softmax_jacobian_gap": jnp.max(jnp.abs(A.softmax_jacobian(z)
                                                    - jax.jacobian(A.softmax)(z))),
            "softmax": A.softmax(z), "sigmoid_far": A.sigmoid(far),
            "d_sigmoid_far": A.d_sigmoid(far[-1])}


def body(args) -> _cli.Outcome:
    v = jax.tree.map(np.asarray, compute(241 if args.quick else 1201))
    gaps = {n: float(np.max(np.abs(v["d"][n] - v["grad"][n]))) for n in A.ACTIVATIONS}
    x = {n: v["xs"] for n in A.ACTIVATIONS}
    f1 = plots.curves(args.out / "activations.png", v["f"], x=x,
                      xlabel="x", ylabel="f(x)", title="activations")
    f2 = plots.curves(args.out / "derivatives.png", v["d"], x=x,
                      xlabel="x", ylabel="f'(x)", title="derivatives (closed form)")
    sig_far = v["sigmoid_far"]
    result = {"derivative_max_gap": gaps, "softmax_jacobian_gap": float(v["softmax_jacobian_gap"]),
              "softmax([1,2,3])": v["softmax"].round(4).tolist(),
              "sigmoid(linspace(-100,100,10)) ends": [float(sig_far[0]), float(sig_far[-1])],
              "sigmoid'(±100)": float(v["d_sigmoid_far"])}
    ok = (max(gaps.values()) < 1e-5 and result["softmax_jacobian_gap"] < 1e-6
          and float(sig_far[-1]) == 1.0)
    reference = {"softmax([1,2,3])": [0.09, 0.2447, 0.6652],
                 "sigmoid(linspace(-100,100,10)) ends": [0.0, 1.0], "sigmoid'(±100)": 0.0}
    return _cli.Outcome(result, reference, bool(ok), data_source="none", figures=[f1, f2])


def main(argv=None) -> dict:
    return _cli.run("activations", __doc__, body, argv)


if __name__ == "__main__":
    main()
