"""Catalogue section A: each experiment reproduces its reference in --quick mode."""

import jax
import numpy as np
import pytest

from _helpers import run_quick as _run
from experiments import (gradient_descent_1d, himmelblau, linear_regression, linreg_concise,
                         linreg_scratch)
from jaxbasics.train import MODES, fit, init_state


def test_linear_regression(tmp_path):
    m = _run(linear_regression, tmp_path)
    r = m["result"]
    assert m["ok"]
    assert abs(r["w"] - r["w_least_squares"]) < 0.05 and abs(r["b"] - r["b_least_squares"]) < 0.05
    assert abs(r["w"] - 5) < 0.2 and abs(r["b"] - 7) < 0.2 and r["final_loss"] < 0.08


def test_linear_regression_modes_agree():
    params, data = linear_regression.problem(0)
    step = linear_regression.make()
    finals = [fit(step, init_state(params, step), data, epochs=3000, mode=m)[0].params
              for m in ("jit", "fused")]
    for a, b in zip(jax.tree.leaves(finals[0]), jax.tree.leaves(finals[1])):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_gradient_descent_1d(tmp_path):
    m = _run(gradient_descent_1d, tmp_path)
    assert m["ok"]
    # f'(x*) = 0 at the reported minimum: 2x sin x + x^2 cos x.
    x = m["result"]["x_star"]
    assert abs(2 * x * np.sin(x) + x**2 * np.cos(x)) < 1e-3 and abs(x - 5.0870) < 1e-3
    assert abs(m["result"]["lr=0.001"]["x_final"] - x) < 1e-3
    assert m["result"]["lr=0.05"]["crossings_of_x*"] > 2


@pytest.mark.parametrize("module", [linreg_scratch, linreg_concise])
def test_d2l_linear_regression(module, tmp_path):
    m = _run(module, tmp_path)
    r = m["result"]
    # At the noise floor: the noise variance 0.01², halved by the scratch loss's 1/2.
    floor = 0.01**2 / (2 if module is linreg_scratch else 1)
    assert m["ok"] and 0.7 * floor < r["epoch_3_loss"] < 1.5 * floor
    assert r["w_error_max"] < 5e-3 and r["b_error"] < 5e-3
    assert r["epoch_losses"][0] > r["epoch_losses"][-1]


@pytest.mark.parametrize("module", [linreg_scratch, linreg_concise])
def test_d2l_modes_agree(module):
    step, params, data, key = module.problem(0)
    losses = [fit(step, init_state(params, step), data, epochs=1, batch_size=10, key=key,
                  mode=mode)[1].loss for mode in MODES]
    for other in losses[1:]:
        np.testing.assert_allclose(other, losses[0], rtol=1e-5, atol=1e-7)


def test_himmelblau_quick(tmp_path):
    m = _run(himmelblau, tmp_path)
    assert m["ok"]
    for start, res in m["result"].items():
        assert res["f"] < 1e-6
        x, y = res["x_y"]
        assert (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2 < 1e-6


def test_himmelblau_seed_settings_reach_the_four_minima():
    step = himmelblau.make()
    state = himmelblau.initial_state(step)
    final, history = fit(step, state, None, epochs=himmelblau.STEPS, mode="fused")
    f = himmelblau.himmelblau(np.asarray(final.params).T)
    assert np.all(f < 1e-6)
    reached = [himmelblau.nearest_minimum(p) for p in np.asarray(final.params)]
    assert reached == [0, 0, 2, 3]
    jit_final, _ = fit(step, state, None, epochs=2000, mode="jit")
    fused_final, _ = fit(step, state, None, epochs=2000, mode="fused")
    np.testing.assert_allclose(jit_final.params, fused_final.params, atol=1e-5)


def test_wrong_flag_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        linear_regression.main(["--mode", "turbo"])
    assert info.value.code == 2
    assert "invalid choice: 'turbo'" in capsys.readouterr().err
