"""experiments.whole_process: the compile-log parser, and a cold then warm process."""

import importlib.util

import numpy as np
import pytest

from experiments import whole_process as wp

# What JAX_LOG_COMPILES=1 writes (jax 0.10): a miss, a hit (its "Finished XLA compilation"
# line follows the hit line), an eager one-operation program, and a second hit.
LOG = """\
Finished tracing _keys for jit in 0.003 sec
Compiling jit(_keys) with global shapes and types (ShapedArray(int32[], weak_type=True),).
Finished jaxpr to MLIR module conversion jit(_keys) in 0.07 sec
Finished XLA compilation of jit(_keys) in 0.25 sec
Finished tracing _fused for jit in 0.04 sec
Compiling jit(_fused) with global shapes and types (ShapedArray(float32[1]),).
Finished jaxpr to MLIR module conversion jit(_fused) in 0.1 sec
Persistent compilation cache hit for 'jit__fused' with key 'jit__fused-bb67acf35f'
Finished XLA compilation of jit(_fused) in 0.03 sec
Finished XLA compilation of jit(relu) in 0.5 sec
some other line the experiment printed
Persistent compilation cache hit for 'jit_full_loss' with key 'jit_full_loss-0123'
Finished XLA compilation of jit(full_loss) in 0.01 sec
Finished XLA compilation of jit(relu) in 0.25 sec
"""


def test_parse_log_tells_hits_from_compilations():
    c = wp.parse_log(LOG)
    assert c["compilations"] == 3 and c["hits"] == 2
    assert c["compile_seconds"] == pytest.approx(0.25 + 0.5 + 0.25)
    assert c["hit_seconds"] == pytest.approx(0.03 + 0.01)
    assert c["trace_seconds"] == pytest.approx(0.043)
    assert c["lower_seconds"] == pytest.approx(0.17)
    assert c["programs"] == {"jit(_keys)": 1, "jit(relu)": 2}
    assert c["program_seconds"] == pytest.approx({"jit(_keys)": 0.25, "jit(relu)": 0.75})
    assert wp.program_summary(c["programs"]) == "jit(relu) x2, jit(_keys)"
    assert wp.parse_log("") == {"compilations": 0, "hits": 0, "compile_seconds": 0.0,
                                "hit_seconds": 0.0, "trace_seconds": 0.0,
                                "lower_seconds": 0.0, "programs": {},
                                "program_seconds": {}}


def test_cold_process_compiles_and_warm_process_only_hits_the_cache(tmp_path):
    cache = tmp_path / "cache"
    cold = wp.run_jax("linreg_scratch", quick=True, cache=str(cache))
    assert cold["returncode"] == 0, cold.get("error")
    assert cold["ok"] and cold["compilations"] >= 1, cold
    assert any(cache.iterdir())
    warm = wp.run_jax("linreg_scratch", quick=True, cache=str(cache))
    assert warm["returncode"] == 0, warm.get("error")
    assert warm["compilations"] == 0, warm["programs"]  # every program from the cache
    assert warm["hits"] >= cold["compilations"]
    off = wp.run_jax("linreg_scratch", quick=True, cache="0")  # the cache turned off
    assert off["hits"] == 0 and off["compilations"] >= cold["compilations"]


def test_tables_from_measured_rows():
    row = {"compilations": 2, "hits": 0, "compile_seconds": 1.0, "compile_share": 0.25,
           "wall": 4.0, "returncode": 0, "body_seconds": 2.0, "hit_seconds": 0.0,
           "trace_seconds": 0.1, "lower_seconds": 0.1}
    warm = dict(row, compilations=0, hits=2, compile_seconds=0.0, compile_share=0.0, wall=2.0)
    measured = [{"experiment": "x", "median": {"torch": {"wall": 3.0, "body_seconds": 1.0},
                                                "cold": row, "warm": warm,
                                                "jax_imports": 1.5, "torch_imports": 1.0}}]
    text = wp.whole_table(measured)
    assert "4.00 (2, 25 %)" in text and "2.00 (0, 2)" in text and "0.75x" in text
    assert "1.50x" in text
    assert "0.80" in wp.breakdown_table(measured)  # cold: body 2.0 - compile 1.0 - trace 0.2
    pair = [{"experiment": "x", "quick": True, "before": row, "after": warm}]
    assert "quick catalogue, total" in wp.before_after_table(pair)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_torch_process_reads_the_same_digits_without_jax(tmp_path):
    from experiments import _torch_originals as originals
    from jaxbasics.data import load
    for split in ("train", "test"):
        x, y = originals._embedded_digits(split)
        ds = load("mnist", split, "embedded")
        np.testing.assert_array_equal(x, ds.images)
        np.testing.assert_array_equal(y, ds.labels)
    run = wp.run_torch("linreg_scratch", quick=True)
    assert run["returncode"] == 0, run.get("error")
    assert run["result"]["epochs"] == 3 and run["result"]["last_batch_loss"] < 1e-3
    assert run["figures"] == ["data.png"]  # d2l 3.2's scatter of the data, as the seed draws


def test_output_paths_and_names_are_checked_before_anything_runs(tmp_path, monkeypatch,
                                                                    capsys):
    """A --json or --worktree that cannot be written, or an unknown --only, is one argparse
    error line naming the flag (exit 2), before a single process is timed."""
    def ran(*args, **kwargs):
        raise AssertionError("ran before its arguments were checked")
    for name in ("machine", "measure", "before_after"):
        monkeypatch.setattr(wp, name, ran)
    a_file = tmp_path / "file"
    a_file.write_text("")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    cases = [
        (["--json", str(a_file / "x.json")], f"argument --json: '{a_file}' is not a directory"),
        (["--json", str(tmp_path)], f"argument --json: '{tmp_path}' is a directory"),
        (["--before", "HEAD", "--worktree", str(full)],
         f"argument --worktree: '{full}' already exists; git worktree add needs a new path or "
         "an empty directory"),
        (["--before", "HEAD", "--worktree", str(a_file / "tree")],
         f"argument --worktree: '{a_file}' is not a directory"),
        (["--before", "no-such-rev"],
         "argument --before: 'no-such-rev' is not a commit of this repository"),
        (["--worktree", str(tmp_path / "w")], "argument --worktree: only --before uses a worktree"),
        (["--only", "nosuch"], "argument --only: unknown experiment(s) ['nosuch']; choose from "
         + ", ".join(wp.EXPERIMENTS) + " (any catalogue experiment with --no-torch)"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as info:
            wp.main(argv)
        assert info.value.code == 2, argv
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"whole_process.py: error: {message}")
    # What may be written: a new file in directories still to be made, an existing file, a
    # new or empty worktree directory.
    assert wp.output_file(str(tmp_path / "a" / "b.json")) == tmp_path / "a" / "b.json"
    assert wp.output_file(str(a_file)) == a_file
    (tmp_path / "empty").mkdir()
    assert wp._worktree_dir(str(tmp_path / "empty")) == tmp_path / "empty"
    assert wp._worktree_dir(str(tmp_path / "new" / "tree")) == tmp_path / "new" / "tree"
