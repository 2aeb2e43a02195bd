"""The catalogue runner and the benchmark, in quick mode."""

import json
import statistics

import pytest

from experiments import __main__ as catalogue
from experiments import jit_vs_eager
from jaxbasics.bench import (Timing, cpu_model, interleaved, per_round_ratio, reset_peak_rss,
                             rss_mib, time_call)


def test_catalogue_runner_writes_report(tmp_path, capsys):
    code = catalogue.main(["--out", str(tmp_path), "--only", "linear_regression", "himmelblau"])
    assert code == 0
    rows = json.loads((tmp_path / "report.json").read_text())
    assert [r["experiment"] for r in rows] == ["linear_regression", "himmelblau"]
    assert all(r["ok"] for r in rows)
    assert "2 of 2 ok" in capsys.readouterr().out
    assert "![fit.png](linear_regression/fit.png)" in (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()  # self-contained: every figure inlined
    assert page.count("src='data:image/png;base64,") == sum(len(r["figures"]) for r in rows) > 0


def test_jit_vs_eager_checks_its_json_path_before_timing(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as info:
        jit_vs_eager.main(["--json", str(tmp_path / "file" / "rows.json")])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"jit_vs_eager.py: error: argument --json: '{tmp_path / 'file'}' is not a directory")


def test_jit_vs_eager_quick(tmp_path):
    out = tmp_path / "bench.json"
    rows = jit_vs_eager.main(["--quick", "--no-torch", "--only", "linear regression",
                              "--json", str(out), "--repeats", "1"])
    assert json.loads(out.read_text()) == rows
    modes = {r["mode"]: r for r in rows if r["workload"].startswith("linear regression, 256")}
    assert set(modes) == {"eager", "jit", "fused"}
    assert all({"workload", "impl", "mode", "seconds", "compile_seconds", "result", "cpu",
                "peak_rss_mib", "rss_growth_mib", "runs"} <= set(r) for r in rows)
    assert len(modes["jit"]["runs"]) == len(modes["fused"]["runs"]) == 2  # quick: two rounds
    assert all(r["cpu"] == cpu_model() and r["peak_rss_mib"] > 0 for r in rows)
    # The three modes compute the same run.
    results = [m["result"] for m in modes.values()]
    assert max(results) - min(results) < 1e-5


ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse avx2 avx512f avx512bw
processor\t: 1
vendor_id\t: AuthenticAMD
"""


def test_cpu_model_names_family_model_generation_and_vector_width():
    line = cpu_model(ZEN4)
    assert line.startswith("AMD EPYC (family 25, model 17: Zen 4; AVX-512), ")
    intel = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("AMD EPYC", "Xeon").replace(
        "cpu family\t: 25", "cpu family\t: 6").replace(" avx512f avx512bw", "")
    assert cpu_model(intel).startswith("Xeon (family 6, model 17; AVX2), ")
    assert cpu_model("").startswith("unknown CPU, ")


def test_rss_window_starts_at_the_current_resident_set():
    import numpy as np
    big = np.ones(2**24)  # 128 MiB, then freed: the process's peak is now above its RSS
    del big
    if not reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs here")
    current, peak = rss_mib()
    assert 0 < current <= peak < current + 64


def test_time_call_separates_compile_and_blocks():
    calls = []

    def fn(x):
        calls.append(x)
        return x

    t = time_call(fn, 3, repeats=4)
    assert len(calls) == 5 and len(t.runs) == 4 and t.result == 3
    assert t.seconds == statistics.median(t.runs)  # the first (compiling) call is not a run


def test_interleaved_runs_the_variants_in_turn_round_after_round():
    order = []

    def variant(name, value):
        def run():
            order.append(name)
            return value
        return run

    t = interleaved({"a": variant("a", 1), "b": variant("b", 2)}, rounds=3)
    assert order == ["a", "b"] * 4  # the first (compiling) calls, then three rounds
    assert [len(t[k].runs) for k in "ab"] == [3, 3] and (t["a"].result, t["b"].result) == (1, 2)
    assert all(t[k].seconds == statistics.median(t[k].runs) and t[k].compile_seconds >= 0
               for k in "ab")


def test_interleaved_repeats_fast_variants_within_a_round_and_stops_at_max_seconds():
    import time
    calls = {"quick": 0, "slow": 0}

    def quick():
        calls["quick"] += 1

    def slow():
        calls["slow"] += 1
        time.sleep(0.05)  # slower than fast_seconds: called once a round, never calibrated

    t = interleaved({"quick": quick, "slow": slow}, rounds=2, fast=0.01, fast_seconds=0.015,
                    max_calls=7)
    assert calls == {"quick": 1 + 1 + 2 * 7, "slow": 1 + 2}
    assert len(t["quick"].runs) == len(t["slow"].runs) == 2
    calls.update(quick=0, slow=0)
    t = interleaved({"quick": quick, "slow": slow}, rounds=5, fast=0.01, fast_seconds=0.015,
                    max_calls=7, max_seconds=0.01)
    assert calls == {"quick": 1 + 1 + 7, "slow": 1 + 1} and len(t["slow"].runs) == 1


def test_ratios_are_the_median_of_each_rounds_ratio():
    torch_t, fused_t = Timing(6.0, 0.0, [2.0, 8.0, 6.0]), Timing(1.0, 0.0, [1.0, 4.0, 1.0])
    assert per_round_ratio(torch_t, fused_t) == 2.0  # rounds 2, 2, 6; the medians give 6
    assert per_round_ratio(torch_t, Timing(2.0, 0.0, [2.0])) == 3.0  # not aligned: medians
    rows = [{"workload": "w", "mode": m, "seconds": t.seconds, "compile_seconds": 0.5,
             "runs": t.runs} for m, t in (("seed loop", torch_t), ("fused", fused_t),
                                          ("jit", Timing(3.0, 0.0, [1.0, 4.0, 3.0])),
                                          ("eager", Timing(30.0, 0.0, [30.0])))]
    assert jit_vs_eager.ratios(rows) == [["w", "2x", "2x", "10x", "4x"]]


def test_command_line_errors_are_one_line_with_exit_code_2(tmp_path):
    import subprocess
    import sys
    bad_value = subprocess.run(
        [sys.executable, "-m", "experiments.mnist_mlp", "--quick", "--dataset", "fashion_mnist",
         "--source", "embedded", "--out", str(tmp_path)], capture_output=True, text=True)
    assert bad_value.returncode == 2
    assert bad_value.stderr.strip().splitlines() == [
        "mnist_mlp.py: error: the embedded source holds MNIST digits only; for "
        "'fashion_mnist' use --source idx, tfds, download or auto"]
    assert "Traceback" not in bad_value.stderr
    bad_flag = subprocess.run([sys.executable, "-m", "experiments.lenet", "--epochs", "x"],
                              capture_output=True, text=True)
    assert bad_flag.returncode == 2 and bad_flag.stderr.strip().splitlines() == [
        "lenet.py: error: argument --epochs: expected a positive integer; got 'x' (see --help)"]


def test_ctrl_c_in_the_benchmark_prints_what_was_timed(monkeypatch, capsys):
    """Ctrl-C while the second workload is timed: the first one's rows are printed, then
    one line naming the workload interrupted; exit status 130. From Python it raises."""
    import sys
    timed = []

    def measure(w, repeats, with_torch):
        timed.append(w.name)
        if len(timed) == 2:
            raise KeyboardInterrupt
        return [dict(workload=w.name, impl="jax", mode=mode, seconds=1e-3, compile_seconds=0.1,
                     result=1.0, peak_rss_mib=1.0, rss_growth_mib=0.0)
                for mode in ("eager", "jit", "fused")]
    monkeypatch.setattr(jit_vs_eager, "measure", measure)
    monkeypatch.setattr(sys, "argv", ["jit_vs_eager.py", "--quick", "--no-torch"])
    with pytest.raises(SystemExit) as info:
        jit_vs_eager.main()
    assert info.value.code == 130
    out, err = capsys.readouterr()
    assert timed[0] in out.split("timing")[-1]  # its row in the table
    assert err.strip() == (f"jit_vs_eager.py: interrupted during {timed[1]}; the rows above "
                           "are the workloads timed before it")
    timed.clear()
    with pytest.raises(KeyboardInterrupt):
        jit_vs_eager.main(["--quick", "--no-torch"])


@pytest.mark.parametrize("module, flag", [("jit_vs_eager", "--repeats"),
                                          ("whole_process", "--repeats"),
                                          ("_floors", "--rounds")])
@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_the_benchmarks_refuse_a_count_below_one_naming_the_flag(module, flag, value, capsys):
    """A count of rounds below one is a usage error (exit 2, one line), not a traceback
    after minutes of timing."""
    import importlib
    main = importlib.import_module(f"experiments.{module}").main
    with pytest.raises(SystemExit) as info:
        main([flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(f"error: argument {flag}: expected a positive integer; got '{value}'")


def test_the_memory_comparison_refuses_a_missing_data_directory(tmp_path, capsys):
    from experiments import _memory
    with pytest.raises(SystemExit) as info:
        _memory.main(["--data-dir", str(tmp_path / "nowhere")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    missing = tmp_path / "nowhere"
    assert err.endswith(f"error: argument --data-dir: no such directory: '{missing}'")
