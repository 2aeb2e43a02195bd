"""The floors under the fused loops (experiments._floors): its variants run the engine's
programs, so an engine change that breaks them shows here, not in a timing run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def test_kernel_times_counts_each_kernel_launch_per_call():
    """A loop of three sorts: the loop launches once a call, its sort three times."""
    x = jax.random.bits(jax.random.key(0), (1000,), jnp.uint32)
    f = jax.jit(lambda x: jax.lax.fori_loop(
        0, 3, lambda i, c: jax.lax.sort(c ^ i.astype(jnp.uint32)), x))
    times = bench.kernel_times(lambda: f(x), calls=4)
    [sort] = [op for op in times if op.startswith("sort")]
    [loop] = [op for op in times if op.startswith("while")]
    assert times[sort][1] == 3 and times[loop][1] == 1
    assert times[loop][0] >= times[sort][0] > 0  # the loop's time includes its sorts


def test_the_fused_d2l_kernels_are_named_with_their_shapes_and_threads():
    line = ('  %broadcast_select_fusion.1 = f32[100,10,2]{2,1,0} fusion(%a, %sort.4), '
            'kind=kLoop, calls=%f, backend_config={"outer_dimension_partitions":["2"]}')
    assert _floors._what(line, "broadcast_select_fusion.1") == (
        "f32[100,10,2] fusion, split over 2 threads")
    assert _floors._what("  %while.7 = (s32[], f32[2]) while(%t), body=%b", "while.7") == "while"
    kernels = _floors.fused_kernels(calls=2)
    # one shuffle per epoch: the sort of the 1,000 hashed indices
    [sort] = [k for k in kernels if k[0].startswith("sort")]
    assert sort[1] == "u32[1000] sort" and sort[3] == 1


def test_only_refuses_an_unknown_workload_before_timing(monkeypatch, capsys):
    def timed(*args, **kwargs):
        raise AssertionError("timed before --only was checked")
    monkeypatch.setattr(_floors, "small_loop_variants", timed)
    with pytest.raises(SystemExit) as info:
        _floors.main(["--only", "nosuch"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "_floors.py: error: argument --only: unknown workload 'nosuch'; choose from mlp, "
        "lenet, resnet, googlenet, densenet")
    with pytest.raises(ValueError, match="unknown workload 'x'; choose from mlp, "):
        _floors.epoch_workloads("x")


def test_only_selects_one_workload_by_its_name_in_any_case():
    from experiments import classic_cnns
    [workload] = _floors.epoch_workloads("LeNet")  # LeNet alone, not GoogLeNet too
    assert workload.name.startswith("LeNet,")
    for name, (module, start) in _floors.WORKLOADS.items():
        if module == "classic_cnns":  # (their workloads take seconds to make)
            assert classic_cnns.BENCHMARKED[name].startswith(start)
