"""Losses with PyTorch's semantics: closed forms, weights, stability, errors, PyTorch itself."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbasics import losses as L
from jaxbasics import optim
from jaxbasics.train import fit, init_state, make_step

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(7, 5)).astype(np.float32) * 2
LABELS = np.array([0, 4, 2, 2, 1, 3, 0])
WEIGHT = RNG.uniform(0.2, 3.0, 5).astype(np.float32)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_cross_entropy_closed_form_and_weighted_mean():
    lp = _log_softmax(LOGITS.astype(np.float64))
    per = -lp[np.arange(7), LABELS]
    np.testing.assert_allclose(L.cross_entropy(LOGITS, LABELS), per.mean(), rtol=1e-5)
    w = WEIGHT[LABELS]
    np.testing.assert_allclose(L.cross_entropy(LOGITS, LABELS, WEIGHT), (w * per).sum() / w.sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(L.cross_entropy(LOGITS, LABELS, WEIGHT, reduction="none"), w * per,
                               rtol=1e-5)
    np.testing.assert_allclose(L.nll(lp, LABELS, reduction="sum"), per.sum(), rtol=1e-5)


def test_ignore_index_drops_examples_from_mean():
    labels = LABELS.copy()
    labels[[1, 4]] = -100
    keep = labels != -100
    expected = L.cross_entropy(LOGITS[keep], LABELS[keep], WEIGHT)
    np.testing.assert_allclose(L.cross_entropy(LOGITS, labels, WEIGHT), expected, rtol=1e-6)
    none = L.cross_entropy(LOGITS, labels, reduction="none")
    assert float(none[1]) == 0.0 and float(none[4]) == 0.0


def test_probability_targets_equal_one_hot_for_hard_labels():
    one_hot = np.eye(5, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(L.cross_entropy(LOGITS, one_hot), L.cross_entropy(LOGITS, LABELS),
                               rtol=1e-6)


def test_cross_entropy_stable_at_extreme_logits():
    logits = jnp.array([[100.0, -100.0], [-100.0, 100.0]])
    v = L.cross_entropy(logits, jnp.array([1, 1]), reduction="none")
    np.testing.assert_allclose(v, [200.0, 0.0], atol=1e-4)
    g = jax.grad(lambda z: L.cross_entropy(z, jnp.array([1, 1])))(logits)
    assert np.isfinite(g).all()


def test_bce_closed_form_clamp_and_error():
    p = RNG.uniform(0.01, 0.99, 9).astype(np.float32)
    t = RNG.uniform(0, 1, 9).astype(np.float32)
    expected = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    np.testing.assert_allclose(L.bce(p, t, reduction="none"), expected, rtol=1e-5)
    # log 0 clamps at -100, as PyTorch does
    np.testing.assert_allclose(L.bce(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]), reduction="none"),
                               [100.0, 100.0])
    with pytest.raises(ValueError, match="input"):
        L.bce(jnp.array([1.5]), jnp.array([1.0]))
    with pytest.raises(ValueError, match="same shape"):
        L.bce(jnp.ones((3, 1)) / 2, jnp.ones(3))


def test_bce_with_logits_matches_bce_and_is_stable():
    x = RNG.normal(size=(4, 3)).astype(np.float32) * 3
    t = (RNG.uniform(size=(4, 3)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(L.bce_with_logits(x, t), L.bce(jax.nn.sigmoid(x), t), rtol=1e-5)
    pw = np.array([1.0, 2.0, 0.5], np.float32)
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    expected = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    np.testing.assert_allclose(L.bce_with_logits(x, t, pos_weight=pw), expected, rtol=1e-5)
    big = jnp.array([100.0, -100.0, 100.0, -100.0])
    tt = jnp.array([1.0, 0.0, 0.0, 1.0])
    v = L.bce_with_logits(big, tt, reduction="none")
    np.testing.assert_allclose(v, [0.0, 0.0, 100.0, 100.0], atol=1e-5)
    assert np.isfinite(jax.grad(lambda z: L.bce_with_logits(z, tt))(big)).all()


def test_kl_div_and_distribution_quantities():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], np.float32)
    q = np.array([[0.3, 0.3, 0.4], [0.2, 0.6, 0.2]], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    np.testing.assert_allclose(L.kl_divergence(p, q), terms.sum(1), rtol=1e-5)
    np.testing.assert_allclose(L.kl_div(np.log(q), p, reduction="batchmean"), terms.sum() / 2,
                               rtol=1e-5)
    np.testing.assert_allclose(L.kl_div(np.log(q), p), terms.mean(), rtol=1e-5)
    np.testing.assert_allclose(L.kl_div(np.log(q), np.log(np.where(p > 0, p, 1e-30)),
                                        reduction="sum", log_target=True), terms.sum(), rtol=1e-4)
    np.testing.assert_allclose(L.entropy(np.full(4, 0.25)), np.log(4), rtol=1e-6)
    np.testing.assert_allclose(L.distribution_cross_entropy(p, q),
                               L.entropy(p) + L.kl_divergence(p, q), rtol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: L.cross_entropy(LOGITS, np.array([0, 1, 2, 3, 4, 5, 0])), "labels"),
    (lambda: L.cross_entropy(LOGITS, LABELS.astype(np.float32)[:, None]), "labels"),
    (lambda: L.cross_entropy(LOGITS, LABELS[:3]), "labels"),
    (lambda: L.cross_entropy(LOGITS, LABELS, WEIGHT[:3]), "weight"),
    (lambda: L.cross_entropy(LOGITS, LABELS, reduction="avg"), "reduction"),
    (lambda: L.kl_div(jnp.zeros(3), jnp.zeros(3), reduction="batch"), "reduction"),
    (lambda: L.cross_entropy(LOGITS, LABELS, label_smoothing=2.0), "label_smoothing"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_lbfgs_runs_through_fit_on_a_quadratic():
    a = jnp.array([1.0, 10.0, 100.0])
    step = make_step(lambda p, _: jnp.sum(a * (p - 2.0) ** 2), optim.make("lbfgs", 1.0))
    state, history = fit(step, init_state(jnp.array([1.0, 1.0, 1.0]), step), None,
                         epochs=15, mode="fused")
    np.testing.assert_allclose(state.params, [2.0, 2.0, 2.0], atol=1e-4)
    assert history.loss[0] > 100 and history.loss[-1] < 1e-6


class TestAgainstPyTorch:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def t(self, a):
        return self.torch.tensor(np.asarray(a))

    def test_cross_entropy_variants(self):
        labels = LABELS.copy()
        labels[2] = -100
        for kw in ({}, {"label_smoothing": 0.2}):
            for red in ("mean", "sum", "none"):
                ours = L.cross_entropy(LOGITS, labels, WEIGHT, reduction=red, **kw)
                theirs = self.F.cross_entropy(self.t(LOGITS), self.t(labels), self.t(WEIGHT),
                                              reduction=red, **kw)
                np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)
        probs = np.asarray(jax.nn.softmax(RNG.normal(size=(7, 5)).astype(np.float32)))
        np.testing.assert_allclose(
            L.cross_entropy(LOGITS, probs, WEIGHT, label_smoothing=0.1),
            self.F.cross_entropy(self.t(LOGITS), self.t(probs), self.t(WEIGHT),
                                 label_smoothing=0.1).numpy(), rtol=1e-5)

    @pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
    def test_binary_and_kl(self):
        x = RNG.normal(size=(5, 3)).astype(np.float32) * 4
        x[0, 0], x[1, 1] = 100.0, -100.0
        t = RNG.uniform(size=(5, 3)).astype(np.float32)
        w = RNG.uniform(0.5, 2, size=(5, 3)).astype(np.float32)
        pw = np.array([0.5, 1.0, 3.0], np.float32)
        np.testing.assert_allclose(
            L.bce_with_logits(x, t, w, pos_weight=pw),
            self.F.binary_cross_entropy_with_logits(self.t(x), self.t(t), self.t(w),
                                                    pos_weight=self.t(pw)).numpy(), rtol=1e-5)
        p = np.asarray(jax.nn.sigmoid(x))
        np.testing.assert_allclose(L.bce(p, t, w, reduction="sum"),
                                   self.F.binary_cross_entropy(self.t(p), self.t(t), self.t(w),
                                                               reduction="sum").numpy(), rtol=1e-5)
        logq = np.asarray(jax.nn.log_softmax(x))
        tp = np.asarray(jax.nn.softmax(-x))
        for red in ("mean", "sum", "batchmean"):
            np.testing.assert_allclose(L.kl_div(logq, tp, reduction=red),
                                       self.F.kl_div(self.t(logq), self.t(tp), reduction=red).numpy(),
                                       rtol=1e-5)
        np.testing.assert_allclose(L.l1(x, t), self.F.l1_loss(self.t(x), self.t(t)).numpy(), rtol=1e-6)
        np.testing.assert_allclose(L.mse(x, t), self.F.mse_loss(self.t(x), self.t(t)).numpy(), rtol=1e-6)
