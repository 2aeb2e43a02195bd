"""Activations: closed-form derivatives equal jax.grad; softmax's Jacobian; PyTorch values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbasics import activations as A

X = jnp.asarray(np.random.default_rng(1).normal(size=41).astype(np.float32) * 4)


@pytest.mark.parametrize("name", list(A.ACTIVATIONS))
def test_closed_form_derivative_equals_grad(name):
    f, df = A.ACTIVATIONS[name], A.DERIVATIVES[name]
    np.testing.assert_allclose(df(X), jax.vmap(jax.grad(f))(X), rtol=1e-5, atol=1e-6)


def test_closed_forms_on_known_values():
    x = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(A.sigmoid(x), 1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=1e-6)
    np.testing.assert_allclose(A.relu(x), [0, 0, 3])
    np.testing.assert_allclose(A.leaky_relu(x), [-0.02, 0, 3], rtol=1e-6)
    np.testing.assert_allclose(A.softplus(x), np.log1p(np.exp([-2.0, 0.0, 3.0])), rtol=1e-6)
    np.testing.assert_allclose(A.selu(x), [A.SELU_SCALE * A.SELU_ALPHA * (np.exp(-2) - 1), 0,
                                           3 * A.SELU_SCALE], rtol=1e-6)
    np.testing.assert_allclose(A.d_sigmoid(jnp.array(0.0)), 0.25)
    np.testing.assert_allclose(A.d_tanh(jnp.array(0.0)), 1.0)


def test_softmax_and_jacobian():
    z = jnp.array([1.0, 2.0, 0.5, -1.0])
    s = np.exp(np.asarray(z)) / np.exp(np.asarray(z)).sum()
    np.testing.assert_allclose(A.softmax(z), s, rtol=1e-6)
    J = A.softmax_jacobian(z)
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(J, jax.jacobian(A.softmax)(z), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(J.sum(0), 0.0, atol=1e-6)   # softmax sums to 1
    batched = A.softmax_jacobian(jnp.stack([z, -z]))
    assert batched.shape == (2, 4, 4)
    np.testing.assert_allclose(A.softmax(jnp.array([1000.0, 0.0])), [1.0, 0.0])


def test_swiglu():
    x = jnp.arange(6.0).reshape(1, 6) - 2
    a, b = x[:, :3], x[:, 3:]
    np.testing.assert_allclose(A.swiglu(x), a / (1 + np.exp(-a)) * b, rtol=1e-6)
    with pytest.raises(ValueError, match="x must have an even length"):
        A.swiglu(jnp.ones(5))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    t = torch.tensor(np.asarray(X))
    pairs = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
             "leaky_relu": torch.nn.functional.leaky_relu, "selu": torch.selu,
             "softplus": torch.nn.functional.softplus}
    for name, tf in pairs.items():
        np.testing.assert_allclose(A.ACTIVATIONS[name](X), tf(t).numpy(), rtol=1e-5, atol=1e-6)
        tt = t.clone().requires_grad_(True)
        tf(tt).sum().backward()
        np.testing.assert_allclose(A.DERIVATIVES[name](X), tt.grad.numpy(), rtol=1e-5, atol=1e-6)
