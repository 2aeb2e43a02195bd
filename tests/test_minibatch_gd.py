"""Catalogue row minibatch_gd: batch vs mini-batch gradient descent in --quick mode."""

import json

import numpy as np

from experiments import minibatch_gd
from jaxbasics.train import MODES

SCHEMA = {"experiment", "mode", "backend", "seconds", "data_source", "result", "reference", "ok"}


def test_minibatch_gd(tmp_path):
    m = minibatch_gd.main(["--quick", "--out", str(tmp_path)])
    assert SCHEMA <= set(m) and m["ok"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == m
    assert (tmp_path / "minibatch_gd.png").stat().st_size > 10_000
    r = m["result"]
    # The closed-form minimum, recomputed here in float64 from the experiment's data.
    x, y = (np.asarray(a, np.float64)[:, 0] for a in minibatch_gd.problem(0)[1])
    least = np.mean((np.polyval(np.polyfit(x, y, 1), x) - y) ** 2)
    assert abs(r["least_squares_mse"] - least) < 1e-6
    # Every batch size ends near that minimum (never below it, beyond float32 rounding):
    # within NEAR, the experiment's own bound (full batch needs 170-960 epochs for 2e-2
    # depending on the seed, and --quick runs 1,000).
    for b in ("256", "64", "10", "1"):
        assert -1e-6 < r["final_mse"][b] - least < minibatch_gd.NEAR, b
    # Fewer epochs the smaller the batch ...
    epochs = [r["epochs_to_min"][b] for b in ("256", "64", "10", "1")]
    assert None not in epochs and epochs == sorted(epochs, reverse=True)
    assert len(set(epochs)) == 4 and epochs[0] < r["epochs"]
    # ... because an epoch holds more updates: at one lr, all need about as many updates.
    for b in ("64", "10"):
        assert r["updates_to_min"][b] == r["epochs_to_min"][b] * (256 // int(b))
        assert abs(r["updates_to_min"][b] / r["updates_to_min"]["256"] - 1) < 0.15
    # Noisier the smaller the batch; one full-batch update per epoch has no spread.
    noise = [r["noise"][b] for b in ("256", "64", "10", "1")]
    assert noise[0] == 0 and noise == sorted(noise) and len(set(noise)) == 4


def test_epochs_to():
    per_epoch = np.array([1.0, 0.5, 0.1, 0.2, 0.05])
    assert minibatch_gd.epochs_to(per_epoch, 0.0, 0.15) == 3  # 1-based, the first hit
    assert minibatch_gd.epochs_to(per_epoch, 0.0, 0.01) is None


def test_minibatch_gd_modes_agree():
    step = minibatch_gd.make()
    runs = [minibatch_gd.train(step, 10, 0, epochs=2, mode=mode) for mode in MODES]
    assert runs[0][0].shape == (50,) and runs[0][1].shape == (2,)
    for per_update, per_epoch in runs[1:]:
        np.testing.assert_allclose(per_update, runs[0][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(per_epoch, runs[0][1], rtol=1e-5, atol=1e-6)
