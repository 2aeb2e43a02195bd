"""The floors under the fused loops (experiments._floors): its variants run the engine's
programs, so an engine change that breaks them shows here, not in a timing run."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _floors
from jaxbasics import bench


def test_the_fused_program_floor_is_the_fit_it_times():
    variants = _floors.small_loop_variants()
    for name, run in variants.items():
        jax.block_until_ready(run())  # every floor runs
    state, metrics = variants["the engine's fused program"]()
    fitted = variants["fit(mode='fused')"]()
    # The same program as fit's fused run: its last loss is fit's last loss, bit for bit.
    assert np.asarray(metrics["loss"]).reshape(-1)[-1] == fitted


def test_dot_products_finds_every_product_of_a_gradient_nested_ones_included():
    """loss = sum(relu(x @ w1) @ w2): forward x @ w1 and h @ w2; backward dh = g @ w2ᵀ,
    dw2 = hᵀ g, dw1 = xᵀ dh; plus one product inside a jitted scan (counted once)."""
    n, d, h, o = 8, 5, 4, 3
    x = jnp.ones((n, d))

    def loss(w1, w2):
        hidden = jax.nn.relu(x @ w1)
        inner = jax.jit(lambda v: jax.lax.scan(lambda c, _: (c @ jnp.eye(o), None), v,
                                               None, length=4)[0])
        return jnp.sum(inner(hidden @ w2))

    w1, w2 = jnp.ones((d, h)), jnp.ones((h, o))
    products = bench.dot_products(jax.grad(loss, argnums=(0, 1)), w1, w2)
    # forward: x @ w1, hidden @ w2, the scan's c @ eye; backward: the scan's, g @ w2ᵀ,
    # hiddenᵀ g, xᵀ dh (the backward scan's product counted once too)
    expected = 2 * (n * d * h + n * h * o + n * o * o) + 2 * (n * o * o + n * o * h
                                                              + h * n * o + d * n * h)
    assert len(products) == 7
    assert bench.product_flops(products) == expected


def test_the_mlp_steps_products_are_the_eight_products_counted_in_closed_form():
    from experiments import mnist_mlp
    step, state, batch, steps = mnist_mlp.workloads(True)[0].traced()
    products = bench.dot_products(step.fn, state, batch)
    assert len(products) == 8
    assert bench.product_flops(products) == bench.mlp_flops((784, 200, 200, 10), 200)
    assert steps == 4000 // 200


def test_gemm_floor_computes_each_product_on_operands_of_its_shapes():
    x, w = jnp.ones((6, 5)), jnp.ones((5, 2))
    products = bench.dot_products(lambda a, b: (a @ b, a.T @ a), x, w)
    shift, outs = bench.gemm_floor(products, steps=3)()
    assert [o.shape for o in outs] == [(6, 2), (5, 5)]
    assert all(bool(jnp.all(jnp.isfinite(o))) for o in outs)
    assert float(shift) == 0.0  # the carried scalar stays 0: the products are the operands'
