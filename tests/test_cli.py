"""The command line as a learner drives it: bad values, divergence, below-reference
results, Ctrl-C and resume, each one line with its exit code and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import CATALOGUE, _cli, lenet, linreg_scratch, mnist_mlp
from jaxbasics.train import NonFiniteLoss

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONUNBUFFERED="1", JAXBASICS_COMPILATION_CACHE="0",
           PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("flags, flag", [
    (["--lr", "-1"], "--lr"), (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--batch-size", "0"], "--batch-size"), (["--epochs", "0"], "--epochs"),
    (["--epochs", "-3"], "--epochs"), (["--seed", "-1"], "--seed"),
    (["--dataset", "foo"], "--dataset"), (["--mode", "turbo"], "--mode"),
    (["--data-dir", "/nonexistent"], "--data-dir"), (["--resume"], "--resume"),
    (["--devices", "0"], "--devices"), (["--devices", "100000"], "--devices"),
    (["--num-processes", "0"], "--num-processes"),
    (["--process-id", "-1"], "--process-id"), (["--out", "/dev/null/x"], "--out"),
    (["--tensorboard", "/dev/null/tb"], "--tensorboard"),
    (["--checkpoint-dir", "/dev/null/ck"], "--checkpoint-dir"),
])
def test_bad_value_is_one_line_naming_the_flag_exit_2(flags, flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        lenet.main(["--quick", "--out", str(tmp_path), *flags])
    assert info.value.code == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("lenet.py: error: argument " + flag), err


def test_a_batch_that_does_not_split_over_the_devices_names_both_flags(tmp_path):
    run = subprocess.run([sys.executable, "-m", "experiments.lenet", "--quick", "--devices", "3",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=ENV,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and lines(run.stderr) == [
        "lenet.py: error: argument --batch-size: 64 does not split evenly over --devices 3; "
        "use a multiple of 3"], run.stderr


def test_embedded_digits_and_a_data_dir_are_refused_together(tmp_path):
    # (the data layer's own errors in flags: tests/test_data.py)
    from experiments import mnist_first
    with pytest.raises(_cli.UsageError, match="argument --data-dir: --source embedded reads no "
                                              "files; leave out one of the two"):
        mnist_first.main(["--quick", "--out", str(tmp_path / "o"), "--source", "embedded",
                          "--data-dir", str(tmp_path)])


def test_flag_types():
    assert _cli.positive_float("1e-3") == 1e-3 and _cli.positive_int("7") == 7
    assert _cli.seed_int("0") == 0 and _cli.non_negative_int("0") == 0
    for bad, kind in [("inf", _cli.positive_float), ("x", _cli.positive_float),
                      ("2.5", _cli.positive_int), ("-1", _cli.seed_int),
                      (str(2**32), _cli.seed_int), ("-1", _cli.non_negative_int)]:
        with pytest.raises(Exception, match="expected"):
            kind(bad)


def test_steps_per_call_keeps_two_shapes_at_most():
    assert _cli.steps_per_call(4000, 64, 8192) is None  # a short epoch: whole epochs
    for n, bs, budget in [(60_000, 64, 8192), (60_000, 32, 1024), (50_000, 200, 8192)]:
        spc = _cli.steps_per_call(n, bs, budget)
        per_epoch = n // bs
        sizes = {min(spc, per_epoch - b) for b in range(0, per_epoch, spc)}
        assert len(sizes) <= 2 and spc * bs <= budget + bs


def test_command_line_below_reference_exits_1_and_python_gets_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXBASICS_COMPILATION_CACHE", "0")
    monkeypatch.setattr(sys, "argv", ["x", "--out", str(tmp_path)])
    body = lambda args: _cli.Outcome({"a": 1}, {"a": 2}, ok=False)  # noqa: E731
    with pytest.raises(SystemExit) as info:
        _cli.run("x", None, body, None)
    assert info.value.code == 1
    assert _cli.run("x", None, body, ["--out", str(tmp_path)])["ok"] is False


def test_other_settings_than_the_seeds_are_shown_not_judged(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXBASICS_COMPILATION_CACHE", "0")
    body = lambda args: _cli.Outcome({"a": 1}, {"a": 2}, ok=False)  # noqa: E731
    knobs = lambda p: _cli.add_training_arguments(p, lr=0.1, epochs=3)  # noqa: E731
    flags = ["--out", str(tmp_path), "--seed", "3", "--quick", "--mode", "jit"]
    m = _cli.run("x", None, body, flags, add_arguments=knobs)  # seed, quick, mode: judged
    assert (m["ok"], m["judged"], m["meets_reference"]) == (False, True, False)
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["x", *flags, "--lr", "1e-5", "--epochs", "3"])
    m = _cli.run("x", None, body, None, add_arguments=knobs)  # no exit 1: not judged
    assert (m["ok"], m["judged"], m["meets_reference"]) == (True, False, False)
    assert lines(capsys.readouterr().out)[-1].startswith(
        "not judged (--lr 1e-05: the references are for the seed's settings; the result does "
        "not meet them): x; wrote ")
    # an experiment that knows its references hold (another dataset's own setting) says so
    judged = lambda args: _cli.Outcome({"a": 1}, {"a": 2}, ok=False, judged=True)  # noqa: E731
    with pytest.raises(SystemExit) as info:
        _cli.run("x", None, judged, None, add_arguments=knobs)
    assert info.value.code == 1


def test_resume_refuses_another_experiments_run_and_a_damaged_history(tmp_path):
    ck, out = tmp_path / "ck", tmp_path / "out"
    flags = ["--quick", "--epochs", "1", "--checkpoint-dir", str(ck), "--out", str(out)]
    lenet.main(flags)
    with pytest.raises(_cli.UsageError, match=f"{str(ck)!r} holds a run of lenet, not "
                                              "mnist_mlp: resume it with python -m "
                                              "experiments.lenet"):
        mnist_mlp.main(flags + ["--resume"])
    with pytest.raises(_cli.UsageError, match=r"was started with --quick given \(now not "
                                              r"given\); resume it"):
        lenet.main(flags[1:] + ["--resume"])
    (ck / "history.npz").write_bytes(b"not a zip")
    with pytest.raises(_cli.UsageError, match="history.npz' is damaged"):
        lenet.main(flags + ["--resume"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(_cli.UsageError, match="argument --resume: no checkpoints in"):
        lenet.main(["--quick", "--checkpoint-dir", str(tmp_path / "empty"), "--resume",
                    "--out", str(out)])


def test_a_ctrl_c_noted_while_starting_stops_the_run_before_its_body(tmp_path, monkeypatch,
                                                                     capsys):
    # A KeyboardInterrupt raised in a garbage-collector callback while JAX is imported is
    # swallowed; the handler experiments/__init__.py installs notes it, and run stops.
    import experiments
    ran = []
    body = lambda args: ran.append(1) or _cli.Outcome({}, {}, ok=True)  # noqa: E731
    monkeypatch.setattr(experiments, "interrupted_while_starting", True)
    with pytest.raises(KeyboardInterrupt):
        _cli.run("x", None, body, ["--out", str(tmp_path)])
    assert ran == [] and experiments.interrupted_while_starting is False
    assert _cli.run("x", None, body, ["--out", str(tmp_path)])["ok"] and ran == [1]
    seen = []
    hook = experiments._quiet_interrupt(lambda *e: seen.append(e[0]))
    hook(KeyboardInterrupt, KeyboardInterrupt(), None)  # one line, no traceback
    hook(ValueError, ValueError("x"), None)  # anything else: the usual hook
    assert capsys.readouterr().err == "\ninterrupted\n" and seen == [ValueError]


def test_ctrl_c_outside_fit_is_one_line_exit_130(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXBASICS_COMPILATION_CACHE", "0")
    monkeypatch.setattr(sys, "argv", ["x", "--out", str(tmp_path)])

    def body(args):
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as info:
        _cli.run("x", None, body, None)
    assert info.value.code == 130
    err = lines(capsys.readouterr().err)
    assert len(err) == 1 and "interrupted; nothing saved (add --checkpoint-dir" in err[0]


def test_divergence_from_python_raises_with_the_learning_rate(tmp_path):
    with pytest.raises(NonFiniteLoss) as info:
        lenet.main(["--quick", "--lr", "1e3", "--out", str(tmp_path)])
    assert info.value.learning_rate == 1e3 and info.value.step >= 0


def test_batch_larger_than_data_and_divergence_on_the_command_line(tmp_path):
    big = subprocess.run([sys.executable, "-m", "experiments.linreg_scratch", "--batch-size",
                          "10000000", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
    assert big.returncode == 2 and lines(big.stderr) == [
        "linreg_scratch.py: error: argument --batch-size: 10000000 is more than the 1000 "
        "examples"]
    nan = subprocess.run([sys.executable, "-m", "experiments.linreg_scratch", "--lr", "1e9",
                          "--out", str(tmp_path)],
                         capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
    err = lines(nan.stderr)
    assert nan.returncode == 1 and len(err) == 1, nan.stderr
    assert err[0].startswith("linreg_scratch.py: error: training diverged: loss ")
    assert "at step" in err[0] and "with learning rate 1e+09" in err[0]


def test_the_step_by_hand_equals_fit():
    step, params, data, key = linreg_scratch.problem(0)
    orders = linreg_scratch.epoch_orders(key, epochs=2, n=linreg_scratch.N,
                                         batch_size=linreg_scratch.BATCH_SIZE)
    by_hand = linreg_scratch.train_by_hand(params, data, orders, verbose=False)
    state, _ = linreg_scratch.fit(step, linreg_scratch.init_state(params, step), data,
                                  epochs=2, batch_size=linreg_scratch.BATCH_SIZE, key=key,
                                  mode="fused")
    for a, b in zip(jax.tree.leaves(by_hand), jax.tree.leaves(state.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_ctrl_c_saves_says_how_to_resume_and_resume_matches(tmp_path):
    flags = ["--quick", "--epochs", "4"]
    ckpt = tmp_path / "ckpt"
    p = subprocess.Popen([sys.executable, "-m", "experiments.lenet", *flags, "--out",
                          str(tmp_path / "a"), "--checkpoint-dir", str(ckpt)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         cwd=tmp_path)
    try:
        for line in p.stdout:  # interrupt once the first epoch is done
            if line.startswith("Test Error"):
                break
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err and len(lines(err)) == 1, err
    assert "interrupted at step" in err and "--checkpoint-dir" in err and "--resume" in err
    resumed = subprocess.run([sys.executable, "-m", "experiments.lenet", *flags, "--out",
                              str(tmp_path / "b"), "--checkpoint-dir", str(ckpt), "--resume"],
                             capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed lenet from step" in resumed.stdout
    import json
    got = json.loads((tmp_path / "b" / "metrics.json").read_text())["result"]
    want = lenet.main([*flags, "--out", str(tmp_path / "c")])["result"]
    assert got == want


MNIST = ["mnist_first", "mnist_mlp", "lenet", "cross_validation", "regularization",
         "lr_schedules", "early_stopping_dropout", "classic_cnns", "visualization"]


@pytest.mark.parametrize("name", MNIST)
def test_every_mnist_experiment_takes_the_knobs_and_the_data_flags(name):
    import importlib
    p = _cli.parser(None)
    importlib.import_module(f"experiments.{name}").add_arguments(p)
    for flag in ("--lr", "--batch-size", "--epochs", "--dataset", "--source", "--data-dir",
                 "--checkpoint-dir", "--resume"):
        assert flag in p._option_string_actions, (name, flag)


# The catalogue rows that train nothing: the demonstrations of tensors, gradients, losses,
# activations and convolutions.
NOT_TRAINING = {"tensor_basics", "autograd_basics", "loss_functions", "activations",
                "conv_basics"}


@pytest.mark.parametrize("name", [n for n in CATALOGUE if n not in NOT_TRAINING])
def test_every_experiment_that_trains_takes_the_knobs(name):
    import importlib
    p = _cli.parser(None)
    module = importlib.import_module(f"experiments.{name}")
    assert hasattr(module, "add_arguments"), name
    module.add_arguments(p)
    # optimizers compares six optimizers, each at the rate tuned for it and the problem
    # (its RATES table): one --lr would mean nothing there.
    for flag in ("--epochs",) if name == "optimizers" else ("--lr", "--epochs"):
        assert flag in p._option_string_actions, (name, flag)


def test_ctrl_c_outside_fit_with_checkpoints_says_how_to_resume(tmp_path, monkeypatch, capsys):
    """Ctrl-C after training (evaluation, figures) of a run that keeps checkpoints: the
    hint is the resume command, not 'nothing saved'."""
    monkeypatch.setenv("JAXBASICS_COMPILATION_CACHE", "0")
    monkeypatch.setattr(sys, "argv", ["x", "--out", str(tmp_path), "--checkpoint-dir",
                                      str(tmp_path / "ckpt")])

    def body(args):
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as info:
        _cli.run("x", None, body, None, add_arguments=lambda p: _cli.add_training_arguments(
            p, lr=0.1, batch_size=4, epochs=1))
    assert info.value.code == 130
    err = lines(capsys.readouterr().err)
    assert len(err) == 1 and "interrupted; resume with: " in err[0], err
    assert err[0].endswith(f"--checkpoint-dir {tmp_path / 'ckpt'} --resume"), err


def test_a_process_id_outside_the_processes_is_one_line_exit_2(tmp_path, capsys):
    """--process-id 2 of one process (no --num-processes) or of two is refused before any
    training, naming the ids there are."""
    for flags, ids in [(["--process-id", "2"], "0..0"),
                       (["--num-processes", "2", "--process-id", "2",
                         "--coordinator", "localhost:1"], "0..1")]:
        with pytest.raises(SystemExit) as info:
            lenet.main(["--quick", "--out", str(tmp_path), *flags])
        assert info.value.code == 2
        err = lines(capsys.readouterr().err)
        assert len(err) == 1 and f"process id must be in {ids}; got 2" in err[0], err


def test_resume_under_other_flags_is_refused_naming_them(tmp_path):
    """A checkpointed run resumes only under the flags that define it (a different batch
    size would continue another run from the same step); how it runs may change."""
    ck, out = tmp_path / "ck", tmp_path / "out"
    flags = ["--quick", "--epochs", "1", "--checkpoint-dir", str(ck), "--out", str(out)]
    first = lenet.main(flags)
    with pytest.raises(_cli.UsageError) as info:
        lenet.main(flags + ["--resume", "--batch-size", "32", "--lr", "0.05"])
    assert str(info.value) == (
        f"argument --resume: the run in {str(ck)!r} was started with --batch-size 64 (now 32), "
        "--lr 0.1 (now 0.05); resume it with its own flags, or start a new run in another "
        "--checkpoint-dir")
    again = lenet.main(flags + ["--resume", "--mode", "jit"])  # finished: nothing to train
    assert again["result"]["final_train_loss"] == first["result"]["final_train_loss"]


def test_run_settings_are_the_defining_flags_as_json():
    import argparse
    args = argparse.Namespace(lr=0.1, batch_size=64, sizes=(1, 2), fn=print, out=Path("o"),
                              mode="jit", only=["resnet"], experiment="x", argv=["--lr"])
    assert _cli.run_settings(args) == {"batch_size": 64, "experiment": "x",
                                       "fn": "<builtin_function_or_method>", "lr": 0.1,
                                       "sizes": [1, 2]}
