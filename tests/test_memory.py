"""jaxbasics.memory: the compiler's freed memory given back after each compilation."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxbasics import memory


def test_release_after_compiles_trims_once_after_each_compilation(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append)
    assert memory.release_after_compiles()
    assert memory.release_after_compiles()  # a second call adds no second listener
    f = jax.jit(lambda x: x * 3.0 - 0.25)
    f(np.ones(7, np.float32)).block_until_ready()  # NumPy inputs: only f compiles
    assert calls == [0]  # malloc_trim(0), once
    f(np.zeros(7, np.float32)).block_until_ready()  # the same program: no compilation, no trim
    assert calls == [0]
    f(np.zeros(8, np.float32)).block_until_ready()  # a new shape compiles again
    assert calls == [0, 0]


def test_without_malloc_trim_nothing_is_released(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release() is False
    assert memory.release_after_compiles() is False


CHILD = """
import json, os, jax
from experiments import mnist_mlp, _cli
from jaxbasics import losses, memory, optim
from jaxbasics.data import load
from jaxbasics.train import fit, init_state, make_step

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

ds = load("mnist", "train")
data = jax.device_put((ds.images[:400], ds.labels[:400]))
apply, params = mnist_mlp.model(_cli.keys(0, 1)[0])
objective = lambda params, batch: losses.cross_entropy(apply(params, batch[0]), batch[1])
step = make_step(objective, optim.make("sgd", 0.01), quick_compile=False)  # full pipeline
fit(step, init_state(params, step), data, epochs=1, batch_size=200, mode="fused")
before = rss()
released = memory.release()
print(json.dumps([released, before, rss()]))
"""


@pytest.mark.skipif(memory._malloc_trim() is None, reason="no glibc malloc_trim here")
def test_release_returns_what_a_compilation_left_behind():
    """In a fresh process, after the MNIST MLP's fused epoch compiled (its freed working
    memory kept by glibc's arenas), release() shrinks the resident set by megabytes
    (52 MiB on the Zen 4 of the README)."""
    out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True,
                         text=True).stdout
    released, before, after = json.loads(out.strip().splitlines()[-1])
    assert released
    assert before - after > 8, (before, after)


@pytest.mark.parametrize("setting, registered", [(None, True), ("0", False), ("off", False)])
def test_the_command_line_releases_unless_switched_off(tmp_path, setting, registered):
    """From the command line (argv None) an experiment registers the release listener;
    JAXBASICS_RELEASE_MEMORY=0 (or off) keeps it from doing so."""
    code = ("import sys; from experiments import autograd_basics as m; "
            f"sys.argv = ['autograd_basics', '--out', {str(tmp_path)!r}]; m.main(); "
            "from jaxbasics import memory; print('registered', bool(memory._registered))")
    env = {k: v for k, v in os.environ.items() if k != "JAXBASICS_RELEASE_MEMORY"}
    env["JAXBASICS_COMPILATION_CACHE"] = "0"
    if setting is not None:
        env["JAXBASICS_RELEASE_MEMORY"] = setting
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env).stdout
    expected = registered and memory._malloc_trim() is not None  # (never without glibc)
    assert out.strip().splitlines()[-1] == f"registered {expected}"


def test_the_memory_comparison_checks_its_data_directory_first(tmp_path, monkeypatch, capsys):
    """A directory without MNIST's training IDX files is one argparse error line (exit 2)
    naming the files looked for, before any stage's process starts."""
    from experiments import _memory
    stages = []
    monkeypatch.setattr(_memory, "run", lambda *args: stages.append(args) or (1.0, 1.0))
    for present, message in [
            ((), "holds no MNIST IDX files: looked for train-images-idx3-ubyte[.gz] and "
                  "train-labels-idx1-ubyte[.gz]"),
            (("train-images-idx3-ubyte",),
             "lacks train-labels-idx1-ubyte[.gz]: the MNIST IDX files needed are "
             "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]")]:
        for name in present:
            (tmp_path / name).write_bytes(b"")
        with pytest.raises(SystemExit) as info:
            _memory.main(["--data-dir", str(tmp_path), "--no-torch"])
        assert info.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"_memory.py: error: argument --data-dir: '{tmp_path}' {message}")
    assert stages == []
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"")  # gzipped or not
    assert len(_memory.main(["--data-dir", str(tmp_path), "--no-torch"])) == len(
        _memory.JAX_STAGES)


def test_the_memory_comparison_says_which_stage_failed_in_one_line(tmp_path, monkeypatch,
                                                                   capsys):
    from experiments import _memory
    with pytest.raises(_memory.StageFailed, match="the nosuch stage 'numpy' failed: "
                       "AttributeError: module 'experiments._memory' has no attribute "
                       "'stage_nosuch'"):
        _memory.run("nosuch", "numpy", str(tmp_path), "fused")  # a process that fails
    for name in _memory.TRAIN_FILES:
        (tmp_path / name).write_bytes(b"")

    def fails(side, stage, *args):
        raise _memory.StageFailed(f"the {side} stage {stage!r} failed: CorruptDataset: x")
    monkeypatch.setattr(_memory, "run", fails)
    with pytest.raises(SystemExit) as info:
        _memory.main(["--data-dir", str(tmp_path)])
    assert info.value.code == 1
    assert capsys.readouterr().err == (
        "_memory.py: error: the jax stage 'numpy' failed: CorruptDataset: x\n")


def test_the_memory_comparisons_flags_have_help(capsys, monkeypatch):
    from experiments import _memory
    monkeypatch.setenv("COLUMNS", "300")  # help lines unwrapped
    with pytest.raises(SystemExit) as info:
        _memory.main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("--data-dir DIR required: a directory holding MNIST's training IDX files, "
            "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (or uncompressed)"
            in text)
    assert ("--mode {jit,fused} how the JAX epoch runs: jit, one compiled step per batch; "
            "fused, the whole epoch in one compiled scan (default fused)" in text)
