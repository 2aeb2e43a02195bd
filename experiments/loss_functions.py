"""Loss functions (seed 001 §31-35): MSE, cross-entropy, BCE, KL, entropy, with PyTorch's numbers.

The seed's examples: ``F.mse_loss(torch.ones(1), x*w)`` with x = 1, w = 2 gives 1;
entropy of [0.25]*4 is 2 bits (1.386 nats), of [0.1, 0.1, 0.1, 0.7] 1.357 bits, of
[0.001, 0.001, 0.001, 0.999] 0.0313 bits; ``F.cross_entropy(logits, y)`` equals
``F.nll_loss(log_softmax(logits), y)``. Plus: class weights (Σwl/Σw), BCE with logits at
±100 (finite), KL(p‖q) = H(p, q) - H(p). The figure: each binary loss against the
predicted probability of the true class.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from jaxbasics import losses as L
from jaxbasics import plots
from jaxbasics._once import jit_once

LN2 = float(np.log(2))


ENTROPY_CASES = {"uniform": [0.25] * 4, "[.1,.1,.1,.7]": [0.1, 0.1, 0.1, 0.7],
                 "[.001,.001,.001,.999]": [0.001, 0.001, 0.001, 0.999]}


@jit_once(static_argnums=1)
def compute(key, points: int) -> dict:
    """Every value of the chapter, by one compiled program."""
    k_logits, k_labels = jax.random.split(key)
    logits = jax.random.normal(k_logits, (8, 10))
    y = jax.random.randint(k_labels, (8,), 0, 10)
    weight = jnp.linspace(0.5, 2.0, 10)
    per = L.cross_entropy(logits, y, reduction="none")
    w = weight[y]
    p, q = jax.nn.softmax(logits[0]), jax.nn.softmax(logits[1])
    probs = jnp.linspace(0.001, 0.999, points)
    ones = jnp.ones_like(probs)
    return {
        "entropy_bits": {name: L.entropy(jnp.array(v)) / LN2 for name, v in ENTROPY_CASES.items()},
        "cross_entropy": L.cross_entropy(logits, y),
        "nll(log_softmax)": L.nll(jax.nn.log_softmax(logits), y),
        "weighted_mean_gap": jnp.abs(L.cross_entropy(logits, y, weight)
                                     - jnp.sum(w * per) / jnp.sum(w)),
        "bce_with_logits(±100, wrong)": L.bce_with_logits(
            jnp.array([100.0, -100.0]), jnp.array([0.0, 1.0]), reduction="none"),
        "kl(p||q)": L.kl_divergence(p, q),
        "kl_div(log q, p)": L.kl_div(jnp.log(q), p, reduction="sum"),
        "kl_identity_gap": jnp.abs(L.kl_divergence(p, q)
                                   - (L.distribution_cross_entropy(p, q) - L.entropy(p))),
        "mse(1, 1*2)": L.mse(jnp.ones(1), jnp.ones(1) * 2),
        "curves": {"probs": probs, "BCE -log p": L.bce(probs, ones, reduction="none"),
                   "MSE (1-p)²": L.mse(probs, ones, reduction="none"),
                   "L1 |1-p|": L.l1(probs, ones, reduction="none")},
    }


def body(args) -> _cli.Outcome:
    values = jax.tree.map(np.asarray, compute(_cli.keys(args.seed, 1)[0],
                                              200 if args.quick else 999))
    curves = values.pop("curves")
    probs = curves.pop("probs")
    figure = plots.curves(args.out / "binary_losses.png", curves, x={k: probs for k in curves},
                          xlabel="predicted probability of the true class",
                          title="losses for target 1")
    result = jax.tree.map(lambda v: v.tolist(), values)
    ent, extreme = result["entropy_bits"], values["bce_with_logits(±100, wrong)"]
    reference = {"mse(1, 1*2)": 1.0,
                 "entropy_bits": {"uniform": 2.0, "[.1,.1,.1,.7]": 1.3568,
                                  "[.001,.001,.001,.999]": 0.0313},
                 "bce_with_logits(±100, wrong)": [100.0, 100.0]}
    ok = (abs(result["cross_entropy"] - result["nll(log_softmax)"]) < 1e-6
          and result["weighted_mean_gap"] < 1e-5 and result["kl_identity_gap"] < 1e-5
          and abs(result["kl(p||q)"] - result["kl_div(log q, p)"]) < 1e-5
          and abs(ent["uniform"] - 2) < 1e-5 and abs(ent["[.1,.1,.1,.7]"] - 1.3568) < 1e-3
          and abs(ent["[.001,.001,.001,.999]"] - 0.0313) < 1e-3
          and np.allclose(extreme, 100.0) and result["mse(1, 1*2)"] == 1.0)
    return _cli.Outcome(result, reference, bool(ok), figures=[figure])


def main(argv=None) -> dict:
    return _cli.run("loss_functions", __doc__, body, argv)


if __name__ == "__main__":
    main()
