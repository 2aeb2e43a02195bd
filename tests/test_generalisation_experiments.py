"""Catalogue section C: each experiment's --quick run and the numbers it must reach."""

import numpy as np
from _compiles import count_compiles

from _helpers import run_quick as _run
from experiments import (capacity, cross_validation, early_stopping_dropout, lr_schedules,
                         regularization)


def test_capacity(tmp_path):
    m = _run(capacity, tmp_path)
    r = m["result"]
    assert m["ok"]
    tr, va = np.array(r["train_mse"]), np.array(r["val_mse"])
    assert len(tr) == 15 and np.all(np.diff(tr) <= 1e-9)
    best = int(np.argmin(va))
    assert 0 < best < 14 and va[-1] > 10 * va[best] and va[0] > 1.5 * va[best]
    # the noise floor: the best validation error is near the noise variance 0.04
    assert 0.02 < va[best] < 0.1
    assert abs(r["engine_degree3_train_mse"] - r["lstsq_degree3_train_mse"]) < 3e-3


def test_regularization_l1_sparsifies(tmp_path):
    with count_compiles() as compiled:  # the penalties are numbers in the state
        m = _run(regularization, tmp_path)
    assert compiled.names.count("jit(_fused)") == 1, compiled.names
    r = m["result"]
    assert m["ok"]
    frac = {k: r[k]["fraction_|w|<1e-3"] for k in ("plain", "L2", "L1")}
    assert frac["L1"] > 0.3 and frac["L1"] > 10 * frac["L2"] and frac["plain"] < 0.1
    assert r["L1"]["mean_|w|"] < r["L2"]["mean_|w|"] < r["plain"]["mean_|w|"]
    assert all(abs(v["gap"] - (v["train_accuracy"] - v["val_accuracy"])) < 1e-9
               for v in r.values())


def test_lr_schedules_plateau_lowers_rate(tmp_path):
    m = _run(lr_schedules, tmp_path)
    r = m["result"]
    assert m["ok"]
    rate = r["plateau"]["rate_per_epoch"]
    assert rate[0] == 0.1 and rate[-1] < rate[0] and r["plateau"]["first_cut_epoch"] > 0
    assert all(b <= a for a, b in zip(rate, rate[1:]))
    losses = [r[f"momentum={mo}"]["final_train_loss"] for mo in (0.0, 0.78, 0.9)]
    assert losses[0] > losses[1] > losses[2]


def test_early_stopping_dropout(tmp_path):
    with count_compiles() as compiled:  # the rate is a number in the state
        m = _run(early_stopping_dropout, tmp_path)
    assert compiled.names.count("jit(_fused)") == 1, compiled.names
    assert m["ok"]
    for p in (0.0, 0.2, 0.5):
        r = m["result"][f"p={p}"]
        assert r["stopped_early"] and r["epochs_run"] == r["best_epoch"] + 1 + 3
        assert abs(r["restored_val_loss"] - r["best_val_loss"]) < 1e-6
        assert r["eval_deterministic"] and r["test_accuracy"] > 0.85


def test_cross_validation(tmp_path, capsys):
    with count_compiles() as compiled:  # equal folds: one program trains all six
        m = _run(cross_validation, tmp_path)
    assert compiled.names.count("jit(_fused)") == 1, compiled.names
    assert compiled.names.count("jit(_evaluate_batches)") == 2, compiled.names  # val, test
    r = m["result"]
    out = capsys.readouterr().out
    assert m["ok"]
    assert out.count("VAL set:") == len(r["val_accuracy_per_epoch"]) and out.count("TEST set:") == 1
    assert r["val_size"] * 5 == r["train_size"] and r["k"] == 6
    assert r["fold_val_accuracy"][0] == r["val_accuracy_per_epoch"][-1]  # fold 0: the hold-out
    assert r["best_val_accuracy"] == max(r["val_accuracy_per_epoch"])
    assert len(r["fold_val_accuracy"]) == r["k"]
    assert abs(r["kfold_mean"] - np.mean(r["fold_val_accuracy"])) < 1e-9
    assert r["kfold_mean"] > 0.8 and r["test_accuracy"] > 0.85


def test_cross_validation_resumed_after_it_finished_reports_the_same_results(tmp_path):
    # The folds' accuracies come from the runs' epoch logs, which a resumed run reads back
    # (a finished fold trains nothing again and its monitor sees no epoch); the hold-out's
    # test uses its best epoch, restored from that epoch's checkpoint. The default run:
    # its best epoch (7 of 0-9 on seed 0) is not the last, which --quick's 4 epochs' is.
    ck = str(tmp_path / "ck")
    run = lambda out, *flags: cross_validation.main(  # noqa: E731
        ["--out", str(tmp_path / out), "--checkpoint-dir", ck, *flags])
    first, again = run("a"), run("b", "--resume")
    assert again["ok"], again["result"]
    assert first["result"]["best_epoch"] < len(first["result"]["val_accuracy_per_epoch"]) - 1
    for name in ("fold_val_accuracy", "val_accuracy_per_epoch", "best_epoch", "kfold_mean",
                 "test_accuracy"):
        assert again["result"][name] == first["result"][name], name
