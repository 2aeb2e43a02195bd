"""jaxbasics.conv and the conv_basics experiment; PyTorch comparisons where installed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import conv_basics
from jaxbasics import conv


def test_conv_basics_quick(tmp_path):
    m = conv_basics.main(["--quick", "--out", str(tmp_path)])
    assert m["ok"], m["result"]
    assert m["result"]["example_shape_k3_s2_p1"] == [2, 6, 6, 4]


def test_output_size_formula():
    assert conv.output_size(28, 5) == 24
    assert conv.output_size(28, 3, stride=2, padding=1) == 14
    assert conv.output_size(28, 3, padding=2, dilation=2) == 28
    assert conv.output_size(7, 2, stride=2) == 3


def test_layout_conversions_round_trip():
    x = jnp.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)  # NCHW
    y = conv.nchw_to_nhwc(x)
    assert y.shape == (2, 4, 5, 3) and y[1, 2, 3, 0] == x[1, 0, 2, 3]
    np.testing.assert_array_equal(conv.nhwc_to_nchw(y), x)
    w = jnp.arange(4 * 3 * 2 * 5.0).reshape(4, 3, 2, 5)  # (out, in, kh, kw)
    k = conv.torch_to_flax_kernel(w)
    assert k.shape == (2, 5, 3, 4) and k[1, 4, 2, 3] == w[3, 2, 1, 4]
    np.testing.assert_array_equal(conv.flax_to_torch_kernel(k), w)


def test_conv_hand_computed():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    k = jnp.ones((2, 2, 1, 1))
    y = conv.conv2d(x, k, jnp.array([1.0]), stride=2)
    np.testing.assert_array_equal(y[0, :, :, 0], [[0 + 1 + 4 + 5 + 1, 2 + 3 + 6 + 7 + 1],
                                                  [8 + 9 + 12 + 13 + 1, 10 + 11 + 14 + 15 + 1]])
    # padding 1 and a 3x3 ones kernel: the corner sums a 2x2 block.
    assert conv.conv2d(x, jnp.ones((3, 3, 1, 1)), padding=1)[0, 0, 0, 0] == 0 + 1 + 4 + 5


def test_avg_pool_counts_padding_and_max_pool_ignores_it():
    x = jnp.ones((1, 2, 2, 1))
    np.testing.assert_allclose(conv.avg_pool2d(x, 2, 1, 1)[0, 0, 0, 0], 0.25)
    assert conv.max_pool2d(-x, 2, 1, 1)[0, 0, 0, 0] == -1.0


@pytest.mark.parametrize("k", [2, 3, (2, 3)])
def test_tiled_max_pool_gradient_is_jaxs_rule_with_ties(k):
    """The 2x2-style pool's own backward (ties counted elementwise) gives JAX's gradient
    of a max, ties shared, on integer inputs full of ties; the values are reduce_window's."""
    kh, kw = (k, k) if isinstance(k, int) else k
    x = jnp.asarray(np.random.default_rng(0).integers(0, 3, (2, 2 * kh, 3 * kw, 3)), jnp.float32)
    y = conv.max_pool2d(x, k)
    weights = jnp.arange(1.0, 1.0 + y.size).reshape(y.shape)
    mine = jax.grad(lambda a: (conv.max_pool2d(a, k) * weights).sum())(x)
    rule = jax.grad(lambda a: (a.reshape(2, 2, kh, 3, kw, 3).max(axis=(2, 4)) * weights).sum())(x)
    np.testing.assert_array_equal(mine, rule)
    windows = np.asarray(x).reshape(2, 2, kh, 3, kw, 3)
    ties = (windows == windows.max(axis=(2, 4), keepdims=True)).sum(axis=(2, 4))
    assert (ties > 1).any() and (ties == 1).any()  # both cases are exercised
    # each window passes on exactly its output's gradient, split among its maxima
    np.testing.assert_allclose(np.asarray(mine).reshape(2, 2, kh, 3, kw, 3).sum(axis=(2, 4)),
                               weights, rtol=1e-6)
    np.testing.assert_array_equal(y, jax.lax.reduce_window(x, -jnp.inf, jax.lax.max,
                                                           (1, kh, kw, 1), (1, kh, kw, 1), "VALID"))
    assert jax.jit(jax.grad(lambda a: conv.max_pool2d(a, k).sum()))(x).shape == x.shape


@pytest.mark.parametrize("k, s, p", [((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (1, 1)),
                                     ((2, 2), (2, 2), (0, 0))])
def test_overlapping_max_pool_is_reduce_window_values_and_gradient(k, s, p):
    """The slices max pool and its backward against ``lax.reduce_window`` and JAX's own
    gradient of it (select-and-scatter, which also picks the first maximum), on a 7x7
    input full of ties."""
    x = jnp.asarray(np.random.default_rng(0).integers(0, 3, (2, 7, 7, 3)), jnp.float32)
    pads = ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0))
    ref = lambda a: jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, *k, 1), (1, *s, 1), pads)  # noqa: E731
    np.testing.assert_array_equal(conv.max_pool2d(x, k, s, p), ref(x))
    w = jnp.asarray(np.random.default_rng(1).normal(size=ref(x).shape), jnp.float32)
    mine = jax.grad(lambda a: (conv.max_pool2d(a, k, s, p) * w).sum())(x)
    np.testing.assert_allclose(mine, jax.grad(lambda a: (ref(a) * w).sum())(x), atol=1e-6)
    np.testing.assert_allclose(mine.sum(), w.sum(), rtol=1e-5)  # every output passes its all on


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="x must be 4-D"):
        conv.conv2d(jnp.zeros((3, 3)), jnp.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d(jnp.zeros((1, 3, 3, 2)), jnp.zeros((1, 1, 3, 1)))
    with pytest.raises(ValueError, match="mode must be one of"):
        conv.upsample(jnp.zeros((1, 2, 2, 1)), 2, "bicubic")
    with pytest.raises(ValueError, match="running_var"):
        conv.batch_norm(jnp.zeros((2, 3)), jnp.zeros(3), jnp.zeros(2), jnp.ones(3),
                        jnp.zeros(3), train=True)


@pytest.mark.parametrize("impl", ["xla", "slices"])
def test_a_window_larger_than_the_input_is_refused_as_torch(impl):
    x, k = jnp.zeros((1, 2, 2, 3)), jnp.zeros((3, 3, 3, 4))
    with pytest.raises(ValueError, match="conv2d's output would be 0x0: the window 3x3 is "
                                         "larger than the input 2x2 padded by 0, 0"):
        conv.conv2d(x, k, impl=impl)
    with pytest.raises(ValueError, match="the window 5x5 is larger"):  # dilation 2
        conv.conv2d(jnp.zeros((1, 4, 6, 3)), k, dilation=2, impl=impl)
    assert conv.conv2d(x, k, padding=1, impl=impl).shape == (1, 2, 2, 4)  # padded: fits
    with pytest.raises(ValueError, match="max_pool2d's output would be 0x0"):
        conv.max_pool2d(jnp.zeros((1, 2, 2, 1)), 3)
    with pytest.raises(ValueError, match="the pooling's output would be 0x0"):
        conv.avg_pool2d(jnp.zeros((1, 2, 2, 1)), 3)
    assert conv.max_pool2d(jnp.zeros((1, 2, 2, 1)), 3, 1, 1).shape == (1, 2, 2, 1)


def test_nested_lists_are_arrays_and_batch_norms_cumulative_momentum_is_named():
    np.testing.assert_array_equal(conv.conv2d([[[[1.0], [2.0]]]], [[[[3.0]]]]), [[[[3.0], [6.0]]]])
    np.testing.assert_allclose(conv.layer_norm([[1.0, 2.0, 3.0]], 3), [[-1.2247, 0.0, 1.2247]],
                               atol=1e-4)
    with pytest.raises(TypeError, match="momentum=None, a cumulative average, needs the count"):
        conv.batch_norm(jnp.ones((4, 2)), jnp.zeros(2), jnp.ones(2), jnp.ones(2), jnp.zeros(2),
                        train=True, momentum=None)


def test_conv_checks_bias_groups_and_dtypes_and_takes_numpy_ints():
    x, k = jnp.zeros((1, 5, 5, 4)), jnp.zeros((3, 3, 2, 6))
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\).*got \(1,\)"):
        conv.conv2d(x, k, jnp.zeros(1), groups=2)
    with pytest.raises(ValueError, match=r"groups \(4\) must divide the kernel's 6 output"):
        conv.conv2d(jnp.zeros((1, 5, 5, 8)), k, groups=4)
    with pytest.raises(TypeError, match="x is int32 but kernel is float32"):
        conv.conv2d(jnp.zeros((1, 5, 5, 2), jnp.int32), k)
    y = conv.conv2d(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 6)), stride=np.int64(2),
                    padding=(np.int32(1), 1))
    np.testing.assert_array_equal(y, conv.conv2d(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 6)),
                                                 stride=2, padding=1))
    assert conv.max_pool2d(jnp.zeros((1, 4, 4, 1)), np.int64(2)).shape == (1, 2, 2, 1)
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints; got 2.0"):
        conv.conv2d(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 6)), stride=2.0)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2),
                                                      ((2, 1), (1, 0), (1, 2))])
def test_conv_matches_torch(stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                     stride=stride, padding=padding, dilation=dilation).numpy()
    got = conv.nhwc_to_nchw(conv.conv2d(conv.nchw_to_nhwc(x), conv.torch_to_flax_kernel(w), b,
                                        stride=stride, padding=padding, dilation=dilation))
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_pool_upsample_batchnorm_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    xt, xj = torch.tensor(x), conv.nchw_to_nhwc(x)

    def close(jax_nhwc, torch_nchw):
        np.testing.assert_allclose(conv.nhwc_to_nchw(jax_nhwc), torch_nchw.numpy(), atol=1e-5)

    close(conv.max_pool2d(xj, 3, 2, 1), F.max_pool2d(xt, 3, 2, 1))
    close(conv.avg_pool2d(xj, 3, 2, 1), F.avg_pool2d(xt, 3, 2, 1))
    close(conv.avg_pool2d(xj, 2), F.avg_pool2d(xt, 2))
    for mode in ("nearest", "bilinear"):
        close(conv.upsample(xj, 2, mode), F.interpolate(xt, scale_factor=2, mode=mode))
    bn = torch.nn.BatchNorm2d(3, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 3.0]))
    scale, bias = jnp.array([1.0, 2.0, 0.5]), jnp.array([0.0, -1.0, 3.0])
    y, rm, rv = conv.batch_norm(xj, jnp.zeros(3), jnp.ones(3), scale, bias, train=True)
    close(y, bn.train()(xt).detach())
    np.testing.assert_allclose(rm, bn.running_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(rv, bn.running_var.numpy(), atol=1e-6)  # unbiased update
    y_eval, rm2, _ = conv.batch_norm(xj, rm, rv, scale, bias, train=False)
    close(y_eval, bn.eval()(xt).detach())
    np.testing.assert_array_equal(rm2, rm)


@pytest.mark.parametrize("cin", [3, conv.ROWS_BELOW_CHANNELS])  # row blocks, im2col
@pytest.mark.parametrize("stride,padding,dilation,width",
                         [(1, 0, 1, 9), (2, 1, 1, 9), (1, 2, 2, 9), (3, 0, 1, 9), (1, 1, 1, 21)])
def test_slices_conv_equals_xla_conv_values_and_gradients(stride, padding, dilation, width,
                                                          cin):
    kx, kk = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (2, 11, width, cin))  # width 21: 22 output columns, 6 row blocks
    k = jax.random.normal(kk, (3, 2, cin, 4))
    b = jnp.arange(4.0)

    def f(impl):
        return lambda x, k: (conv.conv2d(x, k, b, stride=stride, padding=padding,
                                         dilation=dilation, impl=impl) ** 2).sum()

    np.testing.assert_allclose(
        conv.conv2d(x, k, b, stride=stride, padding=padding, dilation=dilation, impl="slices"),
        conv.conv2d(x, k, b, stride=stride, padding=padding, dilation=dilation),
        rtol=1e-5, atol=1e-5)
    for g_slices, g_xla in zip(jax.grad(f("slices"), (0, 1))(x, k),
                               jax.grad(f("xla"), (0, 1))(x, k)):
        np.testing.assert_allclose(g_slices, g_xla, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="impl must be one of"):
        conv.conv2d(x, k, impl="im2col")


@pytest.mark.parametrize("padding,stride", [(1, 1), (1, 2), (0, 2), ("SAME", 1)])
def test_nnx_conv_with_slices_hook_equals_default(padding, stride):
    from flax import nnx
    x = jax.random.normal(jax.random.key(1), (2, 9, 9, 3))
    default = nnx.Conv(3, 5, (3, 3), strides=stride, padding=padding, rngs=nnx.Rngs(0))
    hooked = nnx.Conv(3, 5, (3, 3), strides=stride, padding=padding, rngs=nnx.Rngs(0),
                      conv_general_dilated=conv.conv_general_dilated)
    np.testing.assert_allclose(hooked(x), default(x), rtol=1e-5, atol=1e-5)
