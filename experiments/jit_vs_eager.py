"""Every training loop timed three ways, and against the PyTorch original.

    python -m experiments.jit_vs_eager [--quick] [--json FILE] [--only SUBSTRING]

eager: no jit, each operation dispatched from Python; jit: one compiled step per batch;
fused: whole epochs (or a whole full-batch run) in one compiled ``lax.scan``; torch: the
seed's loop (``zero_grad``/``backward``/``step``) on the CPU, when ``torch`` is importable.
jit, fused and PyTorch are timed in the same rounds, one run of each in turn
(:func:`jaxbasics.bench.interleaved`), so a slow spell of a shared machine lands on all
three; run times are medians over the rounds after a first call, compile time (first call
minus the median) apart, and PyTorch / fused and PyTorch / jit are the medians of the
rounds' own ratios. Ratios come from one run on one machine: compare them, not the
seconds; the CPU model is printed in the header and stored in every row. Memory: each
row's peak resident set over its calls (Linux: the peak window is reset before each call),
and the most that peak rose above the resident set at the call's start; the process holds
every workload's data and both libraries, so the rise is the figure to compare.
The workloads come from each experiment module's ``workloads(quick)``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re

import jax

from experiments import CATALOGUE, _cli
from experiments._workload import Workload
from jaxbasics.bench import Timing, cpu_model, interleaved, matmul_gflops, per_round_ratio


def collect(quick: bool) -> list[Workload]:
    """The workloads of every catalogue experiment that defines ``workloads(quick)``."""
    found = []
    for name in CATALOGUE:
        module = importlib.import_module(f"experiments.{name}")
        if hasattr(module, "workloads"):
            found.extend(module.workloads(quick))
    return found


# Runs faster than FAST seconds are called several times per round (at most FAST_REPEATS,
# about FAST_SECONDS in all): on a shared machine one preemption is several such runs, so
# five repeats of a 0.4 ms loop gave medians from 0.41 to 0.73 ms.
FAST, FAST_REPEATS, FAST_SECONDS = 0.01, 200, 1.0
# PyTorch's name in the rows; jit, fused and it are timed in the same rounds.
TORCH = "seed loop"


def _row(w: Workload, impl: str, mode: str, t, units: int) -> dict:
    row = {"workload": w.name, "impl": impl, "mode": mode,
           "seconds": t.seconds * w.units / units, "compile_seconds": t.compile_seconds,
           "runs": [r * w.units / units for r in t.runs], "result": float(t.result),
           "peak_rss_mib": t.peak_rss_mib, "rss_growth_mib": t.rss_growth_mib}
    if units != w.units:
        row["extrapolated_from"] = f"{units} {w.unit}s"
    if w.flops and impl == "jax":
        row["gflops"] = w.flops * w.units / row["seconds"] / 1e9
    return row


def measure(w: Workload, *, repeats: int, with_torch: bool) -> list[dict]:
    """Rows {"workload", "impl", "mode", "seconds", "compile_seconds", "runs", "result",
    "peak_rss_mib", "rss_growth_mib", ...}: eager timed on its own (slow; on a prefix of
    ``eager_units`` if set, scaled up), then jit, fused and the PyTorch original
    interleaved, ``repeats`` rounds (:func:`jaxbasics.bench.interleaved`), so that their
    ratios are taken round by round."""
    units = min(w.eager_units or w.units, w.units)
    eager = interleaved({"eager": lambda: w.run("eager", units)}, rounds=1, max_seconds=20)
    eager["eager"].compile_seconds = 0.0  # nothing compiles: the first call is a run too
    rows = [_row(w, "jax", "eager", eager["eager"], units)]
    variants = {"jit": lambda: w.run("jit", w.units), "fused": lambda: w.run("fused", w.units)}
    if with_torch and w.torch is not None:
        variants[TORCH] = lambda: w.torch(w.units)
    timed = interleaved(variants, rounds=repeats, fast=FAST, fast_seconds=FAST_SECONDS,
                        max_calls=FAST_REPEATS, max_seconds=30)
    for mode, t in timed.items():
        if mode == TORCH:
            t.compile_seconds = 0.0
        rows.append(_row(w, "torch" if mode == TORCH else "jax", mode, t, w.units))
    return rows


def _ratio(a: dict, b: dict) -> float:
    """a's time over b's, median over the rounds they were timed in together."""
    return per_round_ratio(*(Timing(r["seconds"], 0.0, r.get("runs", [])) for r in (a, b)))


def ratios(rows: list[dict]) -> list[list]:
    """Speed-ups per workload: torch/fused, torch/jit (each the median over rounds of the
    round's ratio), eager/jit, and torch over fused plus its compile time."""
    out = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        by = {r["mode"]: r for r in rows if r["workload"] == name}
        torch = by.get(TORCH)
        fused, jit = by["fused"], by["jit"]
        out.append([
            name,
            f"{_ratio(torch, fused):.3g}x" if torch else "-",
            f"{_ratio(torch, jit):.3g}x" if torch else "-",
            f"{by['eager']['seconds'] / jit['seconds']:.3g}x",
            f"{torch['seconds'] / (fused['seconds'] + fused['compile_seconds']):.3g}x"
            if torch else "-",
        ])
    return out


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(prog="jit_vs_eager.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    p.add_argument("--json", type=_cli.output_file, metavar="FILE",
                   help="write the rows to this file (checked before any timing)")
    p.add_argument("--only", help="only workloads whose name has a word starting with one "
                                  "of these comma-separated words (case-insensitive), e.g. "
                                  "lenet,mlp (lenet is not GoogLeNet)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch originals")
    p.add_argument("--repeats", type=_cli.positive_int, default=5,
                   help="timed runs per mode (default 5)")
    args = p.parse_args(argv)
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    every = collect(args.quick)
    words = [w.strip().lower() for w in (args.only or "").split(",") if w.strip()]
    workloads = [w for w in every
                 if not words or any(re.search(rf"\b{re.escape(x)}", w.name.lower()) for x in words)]
    if not workloads:
        p.error(f"no workload matches --only {args.only!r}; the workloads are: "
                + "; ".join(w.name for w in every))
    cpu = cpu_model()
    print(f"CPU: {cpu}")
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); "
          f"PyTorch: {'yes' if with_torch else 'not installed (pip install torch)'}; "
          f"XLA_FLAGS: {os.environ.get('XLA_FLAGS') or '-'}")
    rows, interrupted = [], None
    for w in workloads:
        print(f"timing {w.name} ...", flush=True)
        try:
            rows.extend(measure(w, repeats=2 if args.quick else args.repeats,
                                with_torch=with_torch))
        except KeyboardInterrupt:  # Ctrl-C: show what was timed, then stop
            if argv is not None:
                raise
            interrupted = w.name
            break
    if interrupted is not None and not rows:
        p.exit(130, f"\n{p.prog}: interrupted during {interrupted}; nothing was timed\n")
    for r in rows:
        r["cpu"] = cpu
    print()
    print(_cli.table([[r["workload"], r["impl"], r["mode"], f"{r['seconds'] * 1e3:.3g} ms",
                       f"{r['compile_seconds'] * 1e3:.3g} ms", f"{r['result']:.6g}",
                       f"{r['peak_rss_mib']:.0f} MiB (+{r['rss_growth_mib']:.0f})",
                       r.get("extrapolated_from", "")] for r in rows],
                     ["workload", "impl", "mode", "run", "compile", "result",
                      "peak RSS (rise)", "note"]))
    rated = [r for r in rows if "gflops" in r and r["mode"] in ("jit", "fused")]
    if rated:
        peak = matmul_gflops()
        print(f"\nmatmul rate of this device: {peak:.0f} GFLOP/s (float32, 2048 x 2048; {cpu})")
        for r in rated:
            r["matmul_fraction"] = r["gflops"] / peak
            print(f"  {r['workload']}, {r['mode']}: {r['gflops']:.0f} GFLOP/s "
                  f"({100 * r['matmul_fraction']:.0f} % of it)")
    print()
    print(_cli.table(ratios(rows), ["workload", "torch/fused", "torch/jit", "eager/jit",
                                    "torch/(fused+compile)"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if interrupted is not None:
        p.exit(130, f"\n{p.prog}: interrupted during {interrupted}; the rows above are the "
                    "workloads timed before it\n")
    return rows


if __name__ == "__main__":
    main()
