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

LN2 = float(np.log(2))


def body(args) -> _cli.Outcome:
    key = jax.random.key(args.seed)
    logits = jax.random.normal(key, (8, 10))
    y = jax.random.randint(jax.random.fold_in(key, 1), (8,), 0, 10)
    weight = jnp.linspace(0.5, 2.0, 10)
    ent = {name: float(L.entropy(jnp.array(p))) / LN2 for name, p in {
        "uniform": [0.25] * 4, "[.1,.1,.1,.7]": [0.1, 0.1, 0.1, 0.7],
        "[.001,.001,.001,.999]": [0.001, 0.001, 0.001, 0.999]}.items()}
    ce = float(L.cross_entropy(logits, y))
    nll = float(L.nll(jax.nn.log_softmax(logits), y))
    per = L.cross_entropy(logits, y, reduction="none")
    w = weight[y]
    weighted_gap = abs(float(L.cross_entropy(logits, y, weight)) - float(jnp.sum(w * per) / jnp.sum(w)))
    extreme = L.bce_with_logits(jnp.array([100.0, -100.0]), jnp.array([0.0, 1.0]), reduction="none")
    p = jax.nn.softmax(logits[0])
    q = jax.nn.softmax(logits[1])
    kl_gap = abs(float(L.kl_divergence(p, q)) -
                 float(L.distribution_cross_entropy(p, q) - L.entropy(p)))
    kl_torch_form = float(L.kl_div(jnp.log(q), p, reduction="sum"))
    probs = jnp.linspace(0.001, 0.999, 200 if args.quick else 999)
    ones = jnp.ones_like(probs)
    figure = plots.curves(args.out / "binary_losses.png", {
        "BCE -log p": np.asarray(L.bce(probs, ones, reduction="none")),
        "MSE (1-p)²": np.asarray(L.mse(probs, ones, reduction="none")),
        "L1 |1-p|": np.asarray(L.l1(probs, ones, reduction="none"))},
        x={k: np.asarray(probs) for k in ("BCE -log p", "MSE (1-p)²", "L1 |1-p|")},
        xlabel="predicted probability of the true class", title="losses for target 1")
    result = {"mse(1, 1*2)": float(L.mse(jnp.ones(1), jnp.ones(1) * 2)),
              "entropy_bits": ent, "cross_entropy": ce, "nll(log_softmax)": nll,
              "weighted_mean_gap": weighted_gap,
              "bce_with_logits(±100, wrong)": np.asarray(extreme).tolist(),
              "kl(p||q)": float(L.kl_divergence(p, q)), "kl_div(log q, p)": kl_torch_form,
              "kl_identity_gap": kl_gap}
    reference = {"mse(1, 1*2)": 1.0,
                 "entropy_bits": {"uniform": 2.0, "[.1,.1,.1,.7]": 1.3568,
                                  "[.001,.001,.001,.999]": 0.0313},
                 "bce_with_logits(±100, wrong)": [100.0, 100.0]}
    ok = (abs(ce - nll) < 1e-6 and weighted_gap < 1e-5 and kl_gap < 1e-5
          and abs(result["kl(p||q)"] - kl_torch_form) < 1e-5
          and abs(ent["uniform"] - 2) < 1e-5 and abs(ent["[.1,.1,.1,.7]"] - 1.3568) < 1e-3
          and abs(ent["[.001,.001,.001,.999]"] - 0.0313) < 1e-3
          and np.allclose(extreme, 100.0) and result["mse(1, 1*2)"] == 1.0)
    return _cli.Outcome(result, reference, bool(ok), figures=[figure])


def main(argv=None) -> dict:
    return _cli.run("loss_functions", __doc__, body, argv)


if __name__ == "__main__":
    main()
