"""PyTorch parity at the edges (issue #12): gradients at kinks, bounds, ties and zero, and the
PyTorch-equivalent functions, each against its closed form and against torch itself on a
grid that includes the exact edge points."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxbasics import activations as A
from jaxbasics import conv, losses, optim, schedules, tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional

GRID = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0], np.float32)


def _jgrad(f, x):
    return np.asarray(jax.vmap(jax.grad(lambda v: f(v)))(jnp.asarray(x)))


def _tgrad(f, x):
    t = torch.tensor(x, requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


# ---- elementwise gradients at kinks and bounds ----

@pytest.mark.parametrize("name, ours, theirs, closed", [
    ("abs", tensor.abs, torch.abs, np.sign),
    ("clamp", lambda v: tensor.clamp(v, -1.0, 1.0), lambda t: t.clamp(-1.0, 1.0),
     lambda x: ((x >= -1) & (x <= 1)).astype(np.float32)),
    ("clamp_min", lambda v: tensor.clamp(v, min=0.0), lambda t: t.clamp(min=0.0),
     lambda x: (x >= 0).astype(np.float32)),
    ("relu", A.relu, torch.relu, lambda x: (x > 0).astype(np.float32)),
    ("leaky_relu", lambda v: A.leaky_relu(v, 0.1), lambda t: F.leaky_relu(t, 0.1),
     lambda x: np.where(x > 0, 1.0, 0.1)),
    ("softplus_beta", lambda v: A.softplus(v, beta=2.0, threshold=4.0),
     lambda t: F.softplus(t, beta=2.0, threshold=4.0),
     lambda x: np.where(2 * x > 4, 1.0, 1 / (1 + np.exp(-2 * x)))),
    ("elu", lambda v: A.elu(v, 0.7), lambda t: F.elu(t, 0.7),
     lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(np.minimum(x, 0)))),
    ("silu", A.silu, F.silu, lambda x: A.d_silu(x)),
    ("gelu", A.gelu, F.gelu, lambda x: A.d_gelu(x)),
])
def test_elementwise_gradient_on_the_edge_grid(name, ours, theirs, closed):
    got = _jgrad(ours, GRID)
    np.testing.assert_allclose(got, closed(GRID), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, _tgrad(theirs, GRID), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.vmap(ours)(GRID)),
                               theirs(torch.tensor(GRID)).numpy(), rtol=1e-5, atol=1e-6)


def test_jax_conventions_that_differ_at_the_kink_are_what_the_docstrings_say():
    # What the tensor/activations docstrings claim jax.numpy does, pinned.
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0
    assert float(jax.grad(lambda v: jnp.clip(v, 0.0, 1.0))(1.0)) == 0.5
    assert float(jax.grad(lambda v: jax.nn.leaky_relu(v, 0.1))(0.0)) == 1.0
    assert np.isnan(jax.grad(jnp.linalg.norm)(jnp.zeros(3))).all()
    np.testing.assert_allclose(jax.grad(lambda v: jnp.max(v, 1).sum())(jnp.array([[1.0, 3.0, 3.0]])),
                               [[0, 0.5, 0.5]])


def test_gelu_default_is_exact_and_tanh_is_jaxs():
    x = jnp.asarray(GRID)
    np.testing.assert_allclose(A.gelu(x), F.gelu(torch.tensor(GRID)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(A.gelu(x, "tanh"), jax.nn.gelu(x), rtol=1e-6)
    np.testing.assert_allclose(A.gelu(x, "tanh"), F.gelu(torch.tensor(GRID), approximate="tanh"),
                               rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(A.gelu(x) - jax.nn.gelu(x)))) > 1e-4  # they do differ
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(x, "erf")


def test_log_softmax_equals_torch_and_makes_cross_entropy():
    z = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32) * 3
    y = np.array([0, 3, 1, 1, 2])
    np.testing.assert_allclose(A.log_softmax(z), F.log_softmax(torch.tensor(z), 1).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.nll(A.log_softmax(z), y), losses.cross_entropy(z, y),
                               rtol=1e-6)


# ---- norms, max with dim ----

@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3, np.inf])
def test_norm_value_and_gradient_including_zero_vector(p):
    x = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0], [1.0, -1.0, 1.0]], np.float32)
    ours = tensor.norm(jnp.asarray(x), p, axis=1)
    np.testing.assert_allclose(ours, np.linalg.norm(x, p, axis=1), rtol=1e-6)
    np.testing.assert_allclose(ours, torch.linalg.vector_norm(torch.tensor(x), p, dim=1).numpy(),
                               rtol=1e-6)
    g = np.asarray(jax.grad(lambda v: tensor.norm(v, p, axis=1).sum())(jnp.asarray(x)))
    np.testing.assert_allclose(g[0], 0.0)  # PyTorch: 0 at the zero vector, not NaN
    assert g[1, 2] == 0.0  # and at a zero entry of a nonzero row (p < 1: |x|^(p-1) = inf)
    np.testing.assert_allclose(g, _tgrad(lambda t: torch.linalg.vector_norm(t, p, dim=1), x),
                               rtol=1e-5, atol=1e-7)
    if p == 2:
        np.testing.assert_allclose(g[1], [0.6, -0.8, 0.0], rtol=1e-6)


def test_norm_refuses_integers_like_torch():
    with pytest.raises(TypeError, match="floating"):
        tensor.norm(jnp.ones(8, jnp.int32))
    with pytest.raises(RuntimeError):
        torch.full([8], 1).norm()


def test_max_dim_gradient_goes_to_the_first_tie_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
    v, i = tensor.max_dim(jnp.asarray(x), axis=1)
    tv, ti = torch.tensor(x).max(dim=1)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    g = jax.grad(lambda a: tensor.max_dim(a, 1)[0].sum())(jnp.asarray(x))
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(g, _tgrad(lambda t: t.max(dim=1).values, x))
    assert int(jnp.argmax(jnp.array([1, 3, 3]))) == torch.tensor([1, 3, 3]).argmax().item() == 1
    vk, ik = tensor.max_dim(jnp.asarray(x), axis=0, keepdims=True)
    assert vk.shape == (1, 3) and ik.shape == (1, 3)
    # over all elements both split the gradient between ties (kept as is)
    np.testing.assert_allclose(jax.grad(jnp.max)(jnp.asarray(x)), _tgrad(torch.max, x))


def test_max_pool_gradient_is_torchs_without_ties_and_shared_at_ties():
    """Distinct values: the gradient is PyTorch's exactly. A tied window: PyTorch gives its
    whole gradient to the first maximum, ours shares it (JAX's rule; the docstring says
    so); each window passes on the same total."""
    x = np.random.default_rng(1).permutation(2 * 4 * 6 * 3).astype(np.float32).reshape(2, 4, 6, 3)
    w = np.arange(1.0, 1.0 + 2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)

    def both(x):
        ours = jax.grad(lambda a: (conv.max_pool2d(a, 2) * w).sum())(jnp.asarray(x))
        t = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
        (F.max_pool2d(t, 2) * torch.tensor(w).permute(0, 3, 1, 2)).sum().backward()
        return np.array(ours), t.grad.permute(0, 2, 3, 1).numpy()

    ours, theirs = both(x)
    np.testing.assert_array_equal(ours, theirs)
    x[0, :2, :2, 0] = 100.0  # window (0, 0, 0, 0): four equal maxima
    ours, theirs = both(x)
    np.testing.assert_array_equal(theirs[0, :2, :2, 0], [[w[0, 0, 0, 0], 0], [0, 0]])
    np.testing.assert_array_equal(ours[0, :2, :2, 0], np.full((2, 2), w[0, 0, 0, 0] / 4))
    ours[0, :2, :2, 0] = theirs[0, :2, :2, 0]
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("k, s, p", [(3, 1, 1), (3, 2, 1), ((3, 2), (2, 1), (1, 0)), (2, 2, 0)])
def test_overlapping_max_pool_gradient_goes_to_the_first_maximum_like_torch(k, s, p):
    """Windows that overlap or do not tile x (GoogLeNet's 3x3 stride-1 pool, a 7x7 input
    under 2x2) take the slices path: PyTorch's values, and at ties (integer inputs) its
    gradient too, the whole of it to the window's first maximum."""
    x = np.random.default_rng(2).integers(0, 3, (2, 7, 7, 3)).astype(np.float32)
    y = conv.max_pool2d(jnp.asarray(x), k, s, p)
    w = np.random.default_rng(3).normal(size=y.shape).astype(np.float32)
    g = jax.jit(jax.grad(lambda a: (conv.max_pool2d(a, k, s, p) * w).sum()))(jnp.asarray(x))
    t = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    yt = F.max_pool2d(t, k, s, p)
    (yt * torch.tensor(w).permute(0, 3, 1, 2)).sum().backward()
    np.testing.assert_array_equal(y, yt.detach().permute(0, 2, 3, 1).numpy())
    np.testing.assert_allclose(g, t.grad.permute(0, 2, 3, 1).numpy(), atol=1e-6)
    assert np.count_nonzero(np.asarray(g)) < x.size  # ties: some elements get nothing


def test_where_with_a_nonfinite_branch_is_nan_in_both_and_double_where_fixes_it():
    x = np.array([0.0, 4.0], np.float32)
    naive = jax.grad(lambda v: jnp.where(v > 0, jnp.sqrt(v), 0.0).sum())(jnp.asarray(x))
    tn = _tgrad(lambda t: torch.where(t > 0, torch.sqrt(t), torch.zeros_like(t)), x)
    assert np.isnan(naive[0]) and np.isnan(tn[0])
    safe = jax.grad(lambda v: jnp.where(v > 0, jnp.sqrt(jnp.where(v > 0, v, 1.0)), 0.0).sum())(
        jnp.asarray(x))
    np.testing.assert_allclose(safe, [0.0, 0.25])


# ---- losses at the edges ----

def test_l1_gradient_is_sign_zero_where_equal():
    x = np.array([0.0, 1.0, 2.0, 3.0], np.float32)
    t = np.array([0.0, 2.0, 2.0, 1.0], np.float32)
    g = jax.grad(lambda v: losses.l1(v, jnp.asarray(t), reduction="sum"))(jnp.asarray(x))
    np.testing.assert_array_equal(g, [0.0, -1.0, 0.0, 1.0])
    np.testing.assert_array_equal(g, _tgrad(lambda v: F.l1_loss(v, torch.tensor(t),
                                                                reduction="sum"), x))


def test_bce_gradient_finite_at_probability_0_and_1_like_torch():
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1e-8], np.float32)
    t = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.3], np.float32)
    g = np.asarray(jax.grad(lambda v: losses.bce(v, jnp.asarray(t)))(jnp.asarray(p)))
    assert np.isfinite(g).all()
    closed = (p - t) / np.maximum(p * (1 - p), 1e-12) / len(p)
    np.testing.assert_allclose(g, closed, rtol=1e-5)
    np.testing.assert_allclose(g, _tgrad(lambda v: F.binary_cross_entropy(v, torch.tensor(t)), p),
                               rtol=1e-5)
    np.testing.assert_allclose(losses.bce(p, t), F.binary_cross_entropy(
        torch.tensor(p), torch.tensor(t)).item(), rtol=1e-6)


def test_bce_of_sigmoid_has_a_finite_gradient_up_to_100():
    xs = np.array([-100.0, -20.0, 0.0, 10.0, 20.0, 50.0, 100.0], np.float32)
    g = _jgrad(lambda v: losses.bce(jax.nn.sigmoid(v), jnp.float32(1.0)), xs)
    assert np.isfinite(g).all()
    assert float(jax.nn.sigmoid(jnp.float32(20.0))) == 1.0  # the edge the issue names
    np.testing.assert_allclose(g, _tgrad(lambda v: F.binary_cross_entropy(
        torch.sigmoid(v), torch.ones_like(v), reduction="none"), xs), atol=1e-7)
    np.testing.assert_allclose(g[2], -0.5)  # σ(0) - 1


def test_cross_entropy_out_of_range_label_fails_clearly_under_jit():
    z, bad = jnp.zeros((2, 3)), jnp.array([0, 5])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        losses.cross_entropy(z, bad)  # eager
    assert np.isnan(jax.jit(losses.cross_entropy)(z, bad))  # the silent default, documented
    # Negative labels too (a gather would wrap -1 to the last class), but not ignore_index.
    per_example = jax.jit(lambda a, b: losses.cross_entropy(a, b, reduction="none"))
    got = per_example(z, jnp.array([-1, -3]))
    assert np.isnan(got).all(), got
    np.testing.assert_allclose(per_example(z, jnp.array([-100, 2])), [0.0, np.log(3)], rtol=1e-6)
    checked = jax.jit(lambda a, b: losses.cross_entropy(a, b, checked=True))
    np.testing.assert_allclose(checked(z, jnp.array([0, 2])), np.log(3), rtol=1e-6)
    with pytest.raises(Exception, match=r"labels must lie in \[0, 3\) .* got \[5\]"):
        checked(z, bad).block_until_ready()
    np.testing.assert_array_equal(losses.check_labels(np.array([0, 2, -100]), 3), [0, 2, -100])
    with pytest.raises(ValueError, match="labels"):
        losses.check_labels(np.array([0, 3]), 3)
    with pytest.raises(IndexError):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5]))


# ---- optimizers against torch.optim trajectories ----

def _quadratic():
    a0 = np.array([1.5, -2.0, 0.3], np.float32)
    scales = np.array([1.0, 3.0, 0.5], np.float32)
    return a0, scales


def _traj(tx, steps=25):
    a0, scales = _quadratic()
    f = lambda p: jnp.sum(scales * p ** 2) + jnp.sum(jnp.sin(3 * p))  # noqa: E731
    step = jax.jit(lambda p, st: (lambda u, st: (optax.apply_updates(p, u), st))(
        *tx.update(jax.grad(f)(p), st, p)))
    p, st = jnp.asarray(a0), tx.init(jnp.asarray(a0))
    for _ in range(steps):
        p, st = step(p, st)
    return np.asarray(p)


def _torch_traj(make, steps=25):
    a0, scales = _quadratic()
    p = torch.tensor(a0, requires_grad=True)
    opt = make([p])
    for _ in range(steps):
        opt.zero_grad()
        (torch.sum(torch.tensor(scales) * p ** 2) + torch.sum(torch.sin(3 * p))).backward()
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("ours, theirs", [
    (("sgd", 0.05, dict(momentum=0.9, dampening=0.5)),
     lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, dampening=0.5)),
    (("sgd", 0.05, dict(momentum=0.9, weight_decay=0.1, nesterov=True)),
     lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, weight_decay=0.1, nesterov=True)),
    (("rmsprop", 0.01, dict(centered=True)), lambda p: torch.optim.RMSprop(p, 0.01, centered=True)),
    (("rmsprop", 0.01, dict(centered=True, momentum=0.5, weight_decay=0.1)),
     lambda p: torch.optim.RMSprop(p, 0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    (("adam", 0.05, dict(weight_decay=0.1)), lambda p: torch.optim.Adam(p, 0.05, weight_decay=0.1)),
    (("adamw", 0.05, dict()), lambda p: torch.optim.AdamW(p, 0.05)),
    (("adagrad", 0.1, dict()), lambda p: torch.optim.Adagrad(p, 0.1)),
    (("adagrad", 0.1, dict(lr_decay=0.05, weight_decay=0.1)),
     lambda p: torch.optim.Adagrad(p, 0.1, lr_decay=0.05, weight_decay=0.1)),
])
def test_optimizer_trajectory_matches_torch(ours, theirs):
    name, lr, hyper = ours
    np.testing.assert_allclose(_traj(optim.make(name, lr, **hyper)), _torch_traj(theirs),
                               rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name, hyper", [("adam", {}), ("adam", {"weight_decay": 0.1}),
                                         ("adamw", {}), ("adamw", {"weight_decay": 0.3})])
def test_amsgrad_matches_torch_when_the_second_moment_falls(name, hyper):
    # One large early gradient, then small ones: v falls, and PyTorch keeps max(v) (raw),
    # corrected by the current step's 1 - b2^t; optax.amsgrad keeps max(v̂) and its steps
    # are smaller (40 % by step 3), so this pins the PyTorch rule.
    spike = [np.array([10.0, -10.0], np.float32)] + [np.array([0.1, 0.3], np.float32)] * 9
    spike += [np.array([1.0, -2.0], np.float32) * (1 + k) for k in range(5)]  # then growing
    tx, p = optim.make(name, 0.1, amsgrad=True, **hyper), jnp.ones(2)
    state, ours = tx.init(p), []
    for g in spike:
        u, state = tx.update(jnp.asarray(g), state, p)
        p = p + u
        ours.append(np.asarray(p))
    q = torch.ones(2, requires_grad=True)
    opt = (torch.optim.Adam if name == "adam" else torch.optim.AdamW)([q], 0.1, amsgrad=True,
                                                                      **hyper)
    theirs = []
    for g in spike:
        q.grad = torch.tensor(g)
        opt.step()
        theirs.append(q.detach().numpy().copy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)  # 15 steps' float32 rounding
    optax_rule = optax.chain(optax.scale_by_amsgrad(), optax.scale_by_learning_rate(0.1))
    p, state = jnp.ones(2), optax_rule.init(jnp.ones(2))
    for g in spike[:3]:
        u, state = optax_rule.update(jnp.asarray(g), state, p)
        p = p + u
    if not hyper and name == "adam":  # the other rule is measurably different
        assert np.all(np.abs(np.asarray(p) - ours[2]) > 1e-2)


def test_clip_grad_norm_matches_torch():
    g = np.array([3.0, -4.0, 12.0], np.float32)  # norm 13
    tx = optim.clip_grad_norm(1.0)
    u, _ = tx.update(jnp.asarray(g), tx.init(jnp.zeros(3)))
    np.testing.assert_allclose(u, g / 13, rtol=1e-6)
    p = torch.zeros(3)
    p.grad = torch.tensor(g)
    assert abs(torch.nn.utils.clip_grad_norm_([p], 1.0).item() - 13.0) < 1e-5
    np.testing.assert_allclose(u, p.grad.numpy(), rtol=1e-6)
    small = jnp.asarray(g / 100)
    np.testing.assert_allclose(tx.update(small, tx.init(small))[0], small)  # under: unchanged


@pytest.mark.parametrize("patience", [0, 1, 3])
def test_plateau_cuts_on_the_same_epoch_as_torch(patience):
    losses_seq = [1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.4, 0.7, 0.7, 0.7, 0.7, 0.7]
    tx = schedules.with_plateau(optax.sgd(1.0), factor=0.5, patience=patience, rtol=1e-4)
    st, ours = tx.init(jnp.zeros(1)), []
    update = jax.jit(lambda st, v: tx.update(jnp.ones(1), st, jnp.zeros(1), value=v)[1])
    for v in losses_seq:
        st = update(st, jnp.asarray(v))
        ours.append(schedules.plateau_scale(st))
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], 1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=patience,
                                                       threshold=1e-4)
    theirs = []
    for v in losses_seq:
        sched.step(v)
        theirs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs)
    first_cut = 1 + 1 + patience  # epochs 0, 1 improve; the (patience+1)-th bad one cuts
    assert ours[first_cut] == 0.5 and ours[first_cut - 1] == 1.0


# ---- convolution family ----

def _img(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _nchw(x):
    return torch.tensor(np.transpose(x, (0, 3, 1, 2)))


def _nhwc(t):
    return np.transpose(t.detach().numpy(), (0, 2, 3, 1))


@pytest.mark.parametrize("k, dilation", [(3, 1), (4, 1), (2, 2), ((2, 3), 1)])
def test_conv_padding_same_matches_torch_including_even_kernels(k, dilation):
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w = _img((2, 7, 6, 3)), _img((5, 3, kh, kw), 1)
    ours = conv.conv2d(jnp.asarray(x), conv.torch_to_flax_kernel(jnp.asarray(w)),
                       padding="same", dilation=dilation)
    theirs = F.conv2d(_nchw(x), torch.tensor(w), padding="same", dilation=dilation)
    assert ours.shape == (2, 7, 6, 5)
    np.testing.assert_allclose(ours, _nhwc(theirs), rtol=1e-4, atol=1e-5)
    valid = conv.conv2d(jnp.asarray(x), conv.torch_to_flax_kernel(jnp.asarray(w)),
                        padding="valid", dilation=dilation)
    np.testing.assert_allclose(valid, _nhwc(F.conv2d(_nchw(x), torch.tensor(w), padding="valid",
                                                     dilation=dilation)), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="stride"):
        conv.conv2d(jnp.asarray(x), conv.torch_to_flax_kernel(jnp.asarray(w)), padding="same",
                    stride=2)


@pytest.mark.parametrize("size, scale, mode, align", [
    ((8, 12), None, "nearest", None), ((5, 3), None, "nearest", None),
    (None, 2, "nearest", None), ((5, 7), None, "nearest-exact", None),
    ((8, 12), None, "bilinear", False), ((3, 5), None, "bilinear", False),
    ((8, 12), None, "bilinear", True), ((3, 5), None, "bilinear", True),
    (None, 3, "bilinear", True),
    # an output or input of one row: align_corners' scale is 0 there (the first pixel)
    ((1, 4), None, "bilinear", True), ((3, 1), None, "bilinear", True),
    ((1, 1), None, "bilinear", False), ((1, 5), None, "nearest-exact", None),
    # factors that do not divide: PyTorch's default takes 1 / s for the coordinates
    (None, 0.5, "bilinear", False), (None, 0.7, "nearest", None),
    (None, (1.5, 0.6), "nearest-exact", None), (None, 2.5, "bilinear", True),
])
@pytest.mark.parametrize("in_hw", [(4, 6), (1, 7)])
def test_interpolate_matches_torch(size, scale, mode, align, in_hw):
    x = _img((2, *in_hw, 3))
    kw = {} if align is None else {"align_corners": align}
    try:
        theirs = F.interpolate(_nchw(x), size=size, scale_factor=scale, mode=mode, **kw)
    except RuntimeError:  # an empty output: refused by both
        with pytest.raises(ValueError, match="at least one row and column"):
            conv.interpolate(jnp.asarray(x), size=size, scale_factor=scale, mode=mode,
                             align_corners=align)
        return
    ours = conv.interpolate(jnp.asarray(x), size=size, scale_factor=scale, mode=mode,
                            align_corners=align)
    np.testing.assert_allclose(ours, _nhwc(theirs), rtol=1e-5, atol=1e-5)
    if scale is not None:  # the other coordinate rule: h / h'
        ours = conv.interpolate(jnp.asarray(x), scale_factor=scale, mode=mode,
                                align_corners=align, recompute_scale_factor=True)
        theirs = F.interpolate(_nchw(x), scale_factor=scale, mode=mode,
                               recompute_scale_factor=True, **kw)
        np.testing.assert_allclose(ours, _nhwc(theirs), rtol=1e-5, atol=1e-5)
    grad = jax.grad(lambda a: jnp.sum(conv.interpolate(a, size=size, scale_factor=scale,
                                                       mode=mode, align_corners=align) ** 2))
    xt = _nchw(x).requires_grad_()
    (F.interpolate(xt, size=size, scale_factor=scale, mode=mode, **kw) ** 2).sum().backward()
    np.testing.assert_allclose(grad(jnp.asarray(x)), _nhwc(xt.grad), rtol=1e-5, atol=1e-5)
    if mode == "bilinear" and align and min(*in_hw, *ours.shape[1:3]) > 1:  # corner to corner
        np.testing.assert_allclose(ours[:, [0, -1]][:, :, [0, -1]], x[:, [0, -1]][:, :, [0, -1]],
                                   rtol=1e-5, atol=1e-6)


def test_interpolate_errors():
    x = jnp.zeros((1, 4, 4, 1))
    with pytest.raises(ValueError, match="exactly one"):
        conv.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        conv.interpolate(x, size=8, align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        conv.interpolate(x, size=8, mode="bicubic")
    with pytest.raises(ValueError, match="output would be 0x0 from 4x4"):
        conv.interpolate(x, scale_factor=0.2)
    with pytest.raises(ValueError, match="recompute_scale_factor only applies"):
        conv.interpolate(x, size=8, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="scale_factor must be a positive number"):
        conv.interpolate(x, scale_factor=(2, -1))


@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (2, 1, 1), (3, 1, 1), ((3, 2), (2, 1), (1, 0))])
def test_avg_pool_count_include_pad_false_matches_torch(k, s, p):
    x = _img((2, 7, 6, 3))
    for include in (True, False):
        ours = conv.avg_pool2d(jnp.asarray(x), k, s, p, count_include_pad=include)
        theirs = F.avg_pool2d(_nchw(x), k, s, p, count_include_pad=include)
        np.testing.assert_allclose(ours, _nhwc(theirs), rtol=1e-5, atol=1e-6)
    ones = conv.avg_pool2d(jnp.ones((1, 5, 5, 1)), 3, 2, 1, count_include_pad=False)
    np.testing.assert_allclose(ones, 1.0)  # a mean of ones is one when padding is not counted


@pytest.mark.parametrize("out", [1, (2, 3), (3, 4), (7, 6), (5, 2)])
def test_adaptive_avg_pool_matches_torch(out):
    x = _img((2, 7, 6, 3))
    ours = conv.adaptive_avg_pool2d(jnp.asarray(x), out)
    np.testing.assert_allclose(ours, _nhwc(F.adaptive_avg_pool2d(_nchw(x), out)),
                               rtol=1e-5, atol=1e-6)
    if out == 1:
        np.testing.assert_allclose(ours[:, 0, 0], x.mean(axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("k, s, p, op, d", [(3, 2, 1, 1, 1), (4, 2, 1, 0, 1), (2, 2, 0, 0, 1),
                                            (3, 1, 0, 0, 2), ((3, 2), (2, 1), (1, 0), (1, 0), 1)])
def test_conv_transpose_matches_torch(k, s, p, op, d):
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = _img((2, 5, 4, 3)), _img((3, 6, kh, kw), 1), _img((6,), 2)
    ours = conv.conv_transpose2d(jnp.asarray(x), jnp.asarray(w.transpose(2, 3, 0, 1)),
                                 jnp.asarray(b), stride=s, padding=p, output_padding=op,
                                 dilation=d)
    theirs = F.conv_transpose2d(_nchw(x), torch.tensor(w), torch.tensor(b), stride=s, padding=p,
                                output_padding=op, dilation=d)
    np.testing.assert_allclose(ours, _nhwc(theirs), rtol=1e-4, atol=1e-5)


def test_conv_transpose_is_the_gradient_of_conv():
    x, w = _img((1, 6, 6, 2)), _img((3, 3, 2, 4), 1)  # conv kernel HWIO (in 2, out 4)
    y_cot = _img((1, 3, 3, 4), 2)
    _, vjp = jax.vjp(lambda v: conv.conv2d(v, jnp.asarray(w), stride=2, padding=1), jnp.asarray(x))
    # transposed conv: in = 4 channels, out = 2: kernel (kh, kw, 4, 2)
    ours = conv.conv_transpose2d(jnp.asarray(y_cot), jnp.asarray(w.transpose(0, 1, 3, 2)),
                                 stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(ours, vjp(jnp.asarray(y_cot))[0], rtol=1e-4, atol=1e-5)


def test_layer_norm_matches_torch_and_flax():
    from flax import nnx
    x, w, b = _img((2, 3, 4, 5)), _img((4, 5), 1), _img((4, 5), 2)
    ours = conv.layer_norm(jnp.asarray(x), (4, 5), jnp.asarray(w), jnp.asarray(b))
    theirs = F.layer_norm(torch.tensor(x), (4, 5), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)
    flat = conv.layer_norm(jnp.asarray(x), 5)
    ln = nnx.LayerNorm(5, epsilon=1e-5, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(flat, ln(jnp.asarray(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flat.mean(-1), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="normalized_shape"):
        conv.layer_norm(jnp.asarray(x), (5, 4))
