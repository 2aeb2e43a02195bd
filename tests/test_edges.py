"""Issue #12 without PyTorch: each edge case and each new function against its closed form
(tests/test_torch_parity.py compares the same with torch when it is installed)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxbasics import activations as A
from jaxbasics import conv, losses, optim, schedules, tensor

GRID = jnp.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])


def _g(f, x=GRID):
    return np.asarray(jax.vmap(jax.grad(f))(x))


def test_kinks_and_bounds_closed_forms():
    np.testing.assert_array_equal(_g(tensor.abs), [-1, -1, 0, 1, 1, 1])
    np.testing.assert_array_equal(_g(lambda v: tensor.clamp(v, -1.0, 1.0)), [0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_g(lambda v: tensor.clamp(v, max=0.5)), [1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(_g(lambda v: A.leaky_relu(v, 0.2)), [0.2, 0.2, 0.2, 1, 1, 1])
    np.testing.assert_allclose(A.d_leaky_relu(GRID, 0.2), [0.2, 0.2, 0.2, 1, 1, 1])
    np.testing.assert_array_equal(_g(A.relu), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(tensor.clamp(GRID, -1.0, 1.0), jnp.clip(GRID, -1.0, 1.0))
    with pytest.raises(ValueError, match="min and max"):
        tensor.clamp(GRID)


def test_norm_and_max_dim_closed_forms():
    x = jnp.array([[0.0, 0.0], [3.0, -4.0]])
    np.testing.assert_allclose(tensor.norm(x, axis=1), [0.0, 5.0])
    np.testing.assert_allclose(tensor.norm(x, 1, axis=1, keepdims=True), [[0.0], [7.0]])
    np.testing.assert_allclose(tensor.norm(x, jnp.inf), 4.0)
    np.testing.assert_allclose(tensor.norm(x, 3), (27 + 64) ** (1 / 3), rtol=1e-6)
    g = jax.grad(lambda v: tensor.norm(v, axis=1).sum())(x)
    np.testing.assert_allclose(g, [[0, 0], [0.6, -0.8]], rtol=1e-6)
    with pytest.raises(ValueError, match="p must"):
        tensor.norm(x, 0)
    v, i = tensor.max_dim(jnp.array([[2.0, 5.0, 5.0]]), 1)
    assert v.tolist() == [5.0] and i.tolist() == [1]
    np.testing.assert_array_equal(jax.grad(lambda a: tensor.max_dim(a, 1)[0].sum())(
        jnp.array([[2.0, 5.0, 5.0]])), [[0, 1, 0]])


def test_losses_at_the_edges():
    t = jnp.array([0.0, 1.0, 1.0, 3.0])
    g = jax.grad(lambda v: losses.l1(v, t, reduction="sum"))(jnp.array([0.0, 2.0, 1.0, 1.0]))
    np.testing.assert_array_equal(g, [0, 1, 0, -1])
    xs = jnp.array([-100.0, -30.0, 0.0, 20.0, 30.0, 100.0])
    gb = _g(lambda v: losses.bce(jax.nn.sigmoid(v), jnp.float32(1.0)), xs)
    assert np.isfinite(gb).all()
    s = np.asarray(jax.nn.sigmoid(xs), np.float64)
    # d/dx = (p - 1)/max(p(1-p), 1e-12) * p(1-p): p - 1 where p(1-p) >= 1e-12, else ~0
    np.testing.assert_allclose(gb, np.where(s * (1 - s) >= 1e-12, s - 1, (s - 1) * s * (1 - s) / 1e-12),
                               atol=1e-6)
    p, tt = jnp.array([0.0, 1.0, 0.3]), jnp.array([1.0, 0.0, 0.3])
    np.testing.assert_allclose(losses.bce(p, tt, reduction="none"),
                               [100.0, 100.0, -(0.3 * math.log(0.3) + 0.7 * math.log(0.7))], rtol=1e-6)
    gt = jax.grad(lambda y: losses.bce(jnp.array([0.25]), y))(jnp.array([0.5]))
    np.testing.assert_allclose(gt, [math.log(0.75) - math.log(0.25)], rtol=1e-6)  # d/dtarget


def test_labels_checked_under_jit():
    f = jax.jit(lambda z, y: losses.nll(z, y, checked=True))
    np.testing.assert_allclose(f(jnp.zeros((2, 3)), jnp.array([-100, 1])), 0.0)
    with pytest.raises(Exception, match=r"labels must lie in \[0, 3\)"):
        f(jnp.zeros((2, 3)), jnp.array([3, 1])).block_until_ready()
    with pytest.raises(TypeError, match="integer"):
        losses.check_labels(np.array([0.0]), 3)


def test_new_activation_closed_forms():
    x = np.asarray(GRID, np.float64)
    np.testing.assert_allclose(A.softplus(GRID, beta=2.0, threshold=3.0),
                               np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2), rtol=1e-6)
    np.testing.assert_allclose(A.elu(GRID, 0.5), np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-6)
    phi = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(A.gelu(GRID), x * phi, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(A.silu(GRID), x / (1 + np.exp(-x)), rtol=1e-6)
    z = jnp.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(A.log_softmax(z), z - np.log(np.exp(z).sum()), rtol=1e-6)
    for name, f in A.MORE_ACTIVATIONS.items():
        np.testing.assert_allclose(A.MORE_DERIVATIVES[name](GRID), _g(f), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        A.softplus(GRID, beta=0.0)


def _steps(tx, grads, p0=1.0):
    p = jnp.array(p0)
    st = tx.init(p)
    out = []
    for g in grads:
        u, st = tx.update(jnp.array(g), st, p)
        p = p + u
        out.append(float(p))
    return out


def test_optimizer_recursions_by_hand():
    grads = [1.0, -2.0, 0.5, 3.0]
    # SGD with dampening: b1 = g1, then b = m b + (1 - d) g
    p, b, want = 1.0, None, []
    for g in grads:
        b = g if b is None else 0.9 * b + 0.5 * g
        p -= 0.1 * b
        want.append(p)
    np.testing.assert_allclose(_steps(optim.make("sgd", 0.1, momentum=0.9, dampening=0.5), grads),
                               want, rtol=1e-6)
    # Adagrad: s += g^2, p -= lr/(1 + (t-1) decay) * g / sqrt(s)
    p, s, want = 1.0, 0.0, []
    for t, g in enumerate(grads):
        s += g * g
        p -= 0.1 / (1 + t * 0.5) * g / math.sqrt(s)
        want.append(p)
    np.testing.assert_allclose(_steps(optim.make("adagrad", 0.1, lr_decay=0.5), grads), want, rtol=1e-6)
    # RMSprop centered, eps outside the root
    p, v, m, want = 1.0, 0.0, 0.0, []
    for g in grads:
        v, m = 0.9 * v + 0.1 * g * g, 0.9 * m + 0.1 * g
        p -= 0.01 * g / (math.sqrt(v - m * m) + 1e-8)
        want.append(p)
    np.testing.assert_allclose(_steps(optim.make("rmsprop", 0.01, alpha=0.9, centered=True), grads),
                               want, rtol=1e-5)
    # Adam's coupled weight decay is Adam on g + wd * p
    coupled = _steps(optim.make("adam", 0.1, weight_decay=0.5), grads)
    p, st, tx, want = jnp.array(1.0), None, optax.adam(0.1), []
    st = tx.init(p)
    for g in grads:
        u, st = tx.update(jnp.array(g) + 0.5 * p, st)
        p = p + u
        want.append(float(p))
    np.testing.assert_allclose(coupled, want, rtol=1e-6)
    for bad in (dict(dampening=-1.0), dict(nesterov=True, dampening=0.5, momentum=0.9)):
        with pytest.raises(ValueError):
            optim.make("sgd", 0.1, **bad)
    assert "adagrad" in optim.OPTIMIZERS


def test_plateau_patience_counts_like_reduce_lr_on_plateau():
    # A constant loss: epoch 0 sets the best, epochs 1.. are bad; PyTorch cuts when the
    # number of bad epochs exceeds patience, i.e. at epoch patience + 1.
    for patience in (0, 2, 4):
        tx = schedules.with_plateau(optax.sgd(1.0), factor=0.5, patience=patience)
        st, scales = tx.init(jnp.zeros(1)), []
        for _ in range(patience + 3):
            _, st = tx.update(jnp.ones(1), st, jnp.zeros(1), value=jnp.asarray(1.0))
            scales.append(schedules.plateau_scale(st))
        assert scales.index(0.5) == patience + 1, (patience, scales)
    with pytest.raises(ValueError, match="patience"):
        schedules.with_plateau(optax.sgd(1.0), patience=-1)


def test_conv_family_closed_forms():
    x = jax.random.normal(jax.random.key(0), (1, 5, 6, 2))
    k = jax.random.normal(jax.random.key(1), (4, 2, 2, 3))  # even height: pads 1 top, 2 bottom
    same = conv.conv2d(x, k, padding="same")
    assert same.shape == (1, 5, 6, 3)
    manual = conv.conv2d(jnp.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))), k)
    np.testing.assert_allclose(same, manual, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="padding"):
        conv.conv2d(x, k, padding="full")
    ones = jnp.ones((1, 4, 4, 1))
    np.testing.assert_allclose(conv.avg_pool2d(ones, 3, 1, 1, count_include_pad=False), 1.0)
    np.testing.assert_allclose(conv.avg_pool2d(ones, 3, 1, 1)[0, 0, 0, 0], 4 / 9, rtol=1e-6)
    np.testing.assert_allclose(conv.adaptive_avg_pool2d(x, 1)[:, 0, 0], x.mean((1, 2)), rtol=1e-5)
    y = jnp.arange(24.0).reshape(1, 4, 6, 1)
    np.testing.assert_allclose(conv.adaptive_avg_pool2d(y, (2, 3)), conv.avg_pool2d(y, 2), rtol=1e-6)
    # overlapping bins: 5 rows into 3 -> rows [0,1], [1,2,3], [3,4]
    col = jnp.arange(5.0).reshape(1, 5, 1, 1)
    np.testing.assert_allclose(conv.adaptive_avg_pool2d(col, (3, 1))[0, :, 0, 0], [0.5, 2.0, 3.5])
    # interpolate: legacy nearest takes floor(i * in / out); align_corners keeps the corners
    row = jnp.arange(4.0).reshape(1, 1, 4, 1)
    np.testing.assert_array_equal(conv.interpolate(row, size=(1, 6))[0, 0, :, 0], [0, 0, 1, 2, 2, 3])
    np.testing.assert_allclose(conv.interpolate(row, size=(1, 7), mode="bilinear",
                                                align_corners=True)[0, 0, :, 0],
                               np.linspace(0, 3, 7), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(conv.interpolate(row, scale_factor=2, mode="bilinear"),
                               conv.upsample(row, 2, "bilinear"), rtol=1e-6)
    # transposed conv: output size formula, and the gradient of a stride-2 conv
    kt = jax.random.normal(jax.random.key(2), (3, 3, 2, 5))
    out = conv.conv_transpose2d(x, kt, stride=2, padding=1, output_padding=1)
    assert out.shape == (1, (5 - 1) * 2 - 2 + 3 + 1, (6 - 1) * 2 - 2 + 3 + 1, 5)
    with pytest.raises(ValueError, match="output_padding"):
        conv.conv_transpose2d(x, kt, stride=2, output_padding=2)
    ln = conv.layer_norm(x, (6, 2))
    np.testing.assert_allclose(ln.mean((2, 3)), 0.0, atol=1e-6)
    np.testing.assert_allclose(ln.var((2, 3)), 1.0, rtol=1e-3)
