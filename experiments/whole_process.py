"""Whole processes as a user runs them: each JAX experiment cold and warm, beside PyTorch.

    python -m experiments.whole_process [--only NAMES] [--repeats N] [--json FILE] [--quick]
    python -m experiments.whole_process --before REV [--worktree DIR] [--json FILE]

For every experiment of :data:`EXPERIMENTS` (default runs; ``--quick`` for tests) it times,
from spawn to exit, as separate processes started with this interpreter:

``torch``
    ``python -m experiments._torch_originals NAME --figures TMP``: the same work in PyTorch
    (its data, steps, batch size, log lines and per-epoch test) and the figures its seed
    draws (``_torch_originals.SEED_FIGURES``: seeds 000, 003 and 004 draw with matplotlib,
    the MNIST seeds draw none), ``import torch`` included, with PyTorch's default threads
    (one per core).
``torch1``
    the same with ``OMP_NUM_THREADS=1``: on a loaded machine PyTorch's threads wait for
    each other (4x slower MNIST MLP steps here at load 10), so the ratios are taken against
    the faster of the two PyTorch processes.
``cold``
    ``python -m experiments.NAME --out TMP`` with ``JAXBASICS_COMPILATION_CACHE`` a fresh
    empty directory: every program compiles (and is written to the cache).
``warm``
    the same command again with the same directory: programs come from the cache.
``imports``
    ``python -c "import experiments.NAME"`` (and ``import torch`` for PyTorch): interpreter
    start, imports and exit, to split the wall time.

Each JAX process runs with ``JAX_LOG_COMPILES=1``; :func:`parse_log` reads its stderr:
compilations = "Finished XLA compilation" lines minus "Persistent compilation cache hit"
lines (a hit logs both), compile seconds = the XLA times of the compilations that were not
hits. Both sides draw their figures (matplotlib) inside the timed process: the JAX
experiment its own, the PyTorch original its seed's.

``--before REV`` counts compilations instead of timing against PyTorch: every catalogue
experiment in ``--quick`` mode and :data:`TARGETS` in their default runs, once in a git
worktree of REV (removed afterwards) and once in this checkout with the persistent cache off
(``JAXBASICS_COMPILATION_CACHE=0``), alternating so that load drifts hit both alike.

The machines are shared: the CPU model and load average are printed beside the numbers;
compare ratios within one run.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

from experiments import CATALOGUE
from experiments._args import output_dir, output_file, positive_int

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = ("linear_regression", "linreg_scratch", "linreg_concise", "himmelblau",
               "mnist_first", "mnist_mlp", "lenet")
TARGETS = ("linreg_scratch", "mnist_mlp", "lenet")  # issue 10 item 3: <= 8 compilations
CACHE_ENV = "JAXBASICS_COMPILATION_CACHE"
TIMEOUT = 900.0  # seconds per process

# --- the compile log ------------------------------------------------------------------

_FINISHED = re.compile(r"Finished XLA compilation of (.+?) in ([0-9.eE+-]+) sec")
_HIT = re.compile(r"Persistent compilation cache hit for '([^']*)'")
_TRACED = re.compile(r"Finished tracing .+? in ([0-9.eE+-]+) sec")
_LOWERED = re.compile(r"Finished jaxpr to MLIR module conversion .+? in ([0-9.eE+-]+) sec")


def _plain(name: str) -> str:
    """A program's name as both log lines can be compared: 'jit(_keys)' and the cache's
    module name 'jit__keys' both give 'jitkeys'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def parse_log(text: str) -> dict:
    """Count a ``JAX_LOG_COMPILES=1`` stderr's compilations.

    Returns {"compilations", "hits", "compile_seconds", "hit_seconds", "trace_seconds",
    "lower_seconds", "programs", "program_seconds"}: compilations = "Finished XLA
    compilation" lines that are
    not cache hits; hits = "Persistent compilation cache hit" lines; compile_seconds = the
    sum of the XLA times of the compilations (hit_seconds: of the hits: loading from the
    cache); trace/lower_seconds = the "Finished tracing" and "Finished jaxpr to MLIR module
    conversion" times (hits and misses); programs = {name: count} of the compilations,
    program_seconds = {name: their XLA seconds}.

    Pairing: JAX logs a hit inside ``compile_or_get_cached`` and then, in the same thread,
    the "Finished XLA compilation" line of that program, so each hit line marks the next
    finished line. Pending hits are matched to a finished line by name first (the cache's
    module name 'jit__keys' against 'jit(_keys)'), else in order.
    """
    pending: list[str] = []
    out = {"compilations": 0, "hits": 0, "compile_seconds": 0.0, "hit_seconds": 0.0,
           "trace_seconds": 0.0, "lower_seconds": 0.0}
    programs: Counter = Counter()
    program_seconds: Counter = Counter()
    for line in text.splitlines():
        if m := _HIT.search(line):
            pending.append(_plain(m.group(1)))
            out["hits"] += 1
        elif m := _FINISHED.search(line):
            name, seconds = m.group(1), float(m.group(2))
            if pending:
                plain = _plain(name)
                pending.pop(pending.index(plain) if plain in pending else 0)
                out["hit_seconds"] += seconds
            else:
                out["compilations"] += 1
                out["compile_seconds"] += seconds
                programs[name] += 1
                program_seconds[name] += seconds
        elif m := _TRACED.search(line):
            out["trace_seconds"] += float(m.group(1))
        elif m := _LOWERED.search(line):
            out["lower_seconds"] += float(m.group(1))
    out["programs"] = dict(programs)
    out["program_seconds"] = dict(program_seconds)
    return out


def program_summary(programs: dict, limit: int = 12) -> str:
    """'jit(_fused), jit(relu) x3, ...' of a {name: count}, most frequent first."""
    items = sorted(programs.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


# --- processes ------------------------------------------------------------------------

def _env(cache: str | None, root: Path = REPO) -> dict:
    """This process's environment for a child: JAX compile logs on, figures to files, the
    persistent cache at ``cache`` ('0': off; None: left unset), ``root`` first on the path."""
    env = dict(os.environ)
    env["JAX_LOG_COMPILES"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # it would override JAXBASICS_COMPILATION_CACHE
    env.pop(CACHE_ENV, None)
    if cache is not None:
        env[CACHE_ENV] = cache
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in
                                                       [os.environ.get("PYTHONPATH")] if p])
    return env


def timed(argv: Sequence[str], *, env: dict, cwd: Path = REPO,
          timeout: float = TIMEOUT) -> dict:
    """Run ``argv``; {"wall" (spawn to exit, s), "returncode", "stdout", "stderr"}."""
    start = time.perf_counter()
    try:
        p = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True,
                           timeout=timeout)
        rc, stdout, stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    return {"wall": time.perf_counter() - start, "returncode": rc, "stdout": stdout,
            "stderr": stderr}


def _error(run: dict) -> str:
    lines = [line for line in run["stderr"].splitlines()
             if "XLA compilation" not in line and "Finished" not in line
             and not line.startswith("Compiling ") and "cache hit" not in line]
    return "\n".join(lines[-8:])


def run_jax(name: str, *, quick: bool, cache: str | None, root: Path = REPO,
            flags: Sequence[str] = ()) -> dict:
    """One ``python -m experiments.NAME`` process: wall, compile counts, the body's seconds
    (metrics.json ``seconds``), returncode; ``cache`` as in :func:`_env`."""
    with tempfile.TemporaryDirectory(prefix=f"wp_{name}_") as out:
        argv = [sys.executable, "-m", f"experiments.{name}", "--out", out,
                *(["--quick"] if quick else []), *flags]
        run = timed(argv, env=_env(cache, root), cwd=root)
        metrics_file = Path(out) / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    row = {"wall": run["wall"], "returncode": run["returncode"], **parse_log(run["stderr"]),
           "body_seconds": metrics.get("seconds"), "ok": metrics.get("ok"),
           "result": metrics.get("result")}
    row["compile_share"] = row["compile_seconds"] / row["wall"]
    if run["returncode"] != 0:
        row["error"] = _error(run)
    return row


def run_torch(name: str, *, quick: bool, threads: int | None = None) -> dict:
    """One ``python -m experiments._torch_originals NAME`` process: wall, the work's seconds,
    its result and the seed's figures it drew (file names); ``threads``: ``OMP_NUM_THREADS``
    (None: PyTorch's default)."""
    env = _env(None)
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix=f"wp_torch_{name}_") as out:
        report = Path(out) / "torch.json"
        argv = [sys.executable, "-m", "experiments._torch_originals", name, "--json",
                str(report), "--figures", out, *(["--quick"] if quick else [])]
        run = timed(argv, env=env)
        done = json.loads(report.read_text()) if report.exists() else {}
        figures = sorted(p.name for p in Path(out).glob("*.png"))
    row = {"wall": run["wall"], "returncode": run["returncode"],
           "body_seconds": done.get("seconds"), "result": done.get("result"),
           "threads": done.get("threads"), "figures": figures}
    if run["returncode"] != 0:
        row["error"] = _error(run)
    return row


def run_imports(statement: str) -> float:
    """Wall seconds of ``python -c STATEMENT`` (interpreter start, imports, exit)."""
    return timed([sys.executable, "-c", statement], env=_env("0"))["wall"]


# --- the machine ----------------------------------------------------------------------

def machine() -> dict:
    """CPU model (with family/model and AVX-512), cores, load average, library versions."""
    info = {"cpu": "?", "cores": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        fields = dict(re.findall(r"^(model name|cpu family|model)\s*:\s*(.*)$", text, re.M))
        info["cpu"] = fields.get("model name", "?")
        info["cpu_family_model"] = f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}"
        info["avx512"] = " avx512f " in f" {text} ".replace("\n", " ")
    except OSError:
        pass
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    info["python"] = sys.version.split()[0]
    versions = timed([sys.executable, "-c", "import importlib.metadata as m; print(' '.join("
                      "f'{p} {m.version(p)}' for p in ('jax', 'jaxlib', 'torch')))"],
                     env=_env("0"))["stdout"].strip()
    info["versions"] = versions
    return info


def describe(info: dict) -> str:
    return (f"CPU: {info['cpu']} (family/model {info.get('cpu_family_model', '?')}, "
            f"AVX-512 {'yes' if info.get('avx512') else 'no'}), {info['cores']} cores; "
            f"load average {info.get('load_average', '?')}; {info.get('versions', '')}")


# --- the whole-process benchmark ------------------------------------------------------

KINDS = ("torch", "torch1", "cold", "warm")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def measure(name: str, *, quick: bool, repeats: int, with_torch: bool = True,
            log=print) -> dict:
    """``repeats`` rounds of (torch, torch1, cold, warm, imports) for one experiment,
    interleaved; the runs and their medians."""
    runs: dict[str, list] = {"torch": [], "torch1": [], "cold": [], "warm": [],
                             "jax_imports": [], "torch_imports": []}
    for i in range(repeats):
        if with_torch:
            runs["torch"].append(run_torch(name, quick=quick))
            runs["torch1"].append(run_torch(name, quick=quick, threads=1))
            runs["torch_imports"].append(run_imports("import numpy, torch"))
        cache = tempfile.mkdtemp(prefix=f"wp_cache_{name}_")
        try:
            runs["cold"].append(run_jax(name, quick=quick, cache=cache))
            runs["warm"].append(run_jax(name, quick=quick, cache=cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        runs["jax_imports"].append(run_imports(f"import experiments.{name}"))
        log(f"  {name} round {i + 1}: " + ", ".join(
            f"{k} {runs[k][-1]['wall']:.2f} s" for k in KINDS if runs[k])
            + f" ({runs['cold'][-1]['compilations']} compilations cold, "
              f"{runs['warm'][-1]['compilations']} warm)")
    med = {}
    for kind in KINDS:
        if runs[kind]:
            med[kind] = {k: _median([r.get(k) for r in runs[kind]])
                         for k in ("wall", "body_seconds", "compilations", "hits",
                                   "compile_seconds", "hit_seconds", "trace_seconds",
                                   "lower_seconds", "compile_share")
                         if any(isinstance(r.get(k), (int, float)) for r in runs[kind])}
    for kind in ("jax_imports", "torch_imports"):
        if runs[kind]:
            med[kind] = _median(runs[kind])
    failed = [f"{kind}: {r.get('error', r['returncode'])}" for kind in KINDS
              for r in runs[kind] if r["returncode"] != 0]
    return {"experiment": name, "quick": quick, "runs": runs, "median": med, "failed": failed}


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def whole_table(rows: list[dict]) -> str:
    """The medians; the ratios use the faster of the two PyTorch processes."""
    from experiments._cli import table
    lines = []
    for r in rows:
        m = r["median"]
        torch_s, torch1_s = (m.get(k, {}).get("wall") for k in ("torch", "torch1"))
        best = min((t for t in (torch_s, torch1_s) if t), default=None)
        cold, warm = m["cold"], m["warm"]
        lines.append([
            r["experiment"], f"{torch_s:.2f}" if torch_s else "-",
            f"{torch1_s:.2f}" if torch1_s else "-",
            f"{cold['wall']:.2f} ({cold['compilations']:.0f}, "
            f"{100 * cold['compile_share']:.0f} %)",
            f"{warm['wall']:.2f} ({warm['compilations']:.0f}, {warm.get('hits', 0):.0f})",
            _ratio(best, cold["wall"]), _ratio(best, warm["wall"])])
    return table(lines, ["experiment", "PyTorch process s", "PyTorch 1 thread s",
                         "JAX cold s (compilations, compile share)",
                         "JAX warm s (compilations, hits)", "torch/JAX cold",
                         "torch/JAX warm"])


def breakdown_table(rows: list[dict]) -> str:
    """Where the time goes, medians: outside the body (interpreter start, imports, argument
    parsing, exit: wall - body, in the same process), an import-only process for scale,
    the body (metrics.json ``seconds``, or the PyTorch work), of it XLA compile (or loading
    from the cache, warm) and tracing + lowering, and the body's remainder (training,
    evaluation, data, figures)."""
    from experiments._cli import table
    f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = []
    for r in rows:
        m = r["median"]
        for kind in KINDS:
            if kind not in m:
                continue
            s = m[kind]
            jax_side = kind in ("cold", "warm")
            imports = m.get("jax_imports" if jax_side else "torch_imports")
            body = s.get("body_seconds")
            compile_s = s.get("compile_seconds", 0.0) + s.get("hit_seconds", 0.0)
            tracing = s.get("trace_seconds", 0.0) + s.get("lower_seconds", 0.0)
            rest = None if body is None else body - (compile_s + tracing if jax_side else 0)
            lines.append([r["experiment"], kind, f(s["wall"]),
                          f(None if body is None else s["wall"] - body), f(imports), f(body),
                          f(compile_s) if jax_side else "-", f(tracing) if jax_side else "-",
                          f(rest)])
    return table(lines, ["experiment", "process", "wall", "outside body", "import-only process",
                         "body", "XLA compile/cache load", "trace+lower",
                         "body - compile - trace"])


# --- compilations before and after ----------------------------------------------------

def catalogue(root: Path) -> list[str]:
    """``experiments.CATALOGUE`` of a checkout, read without importing it."""
    tree = ast.parse((root / "experiments" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CATALOGUE"
                                                for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError(f"no CATALOGUE in {root}/experiments/__init__.py")


@contextlib.contextmanager
def worktree(rev: str, path: Path | None = None) -> Iterator[Path]:
    """A detached git worktree of ``rev`` (in a temp dir unless ``path``), removed after."""
    base = Path(path) if path else Path(tempfile.mkdtemp(prefix="wp_base_")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), rev],
                   check=True, capture_output=True)
    try:
        yield base
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                       capture_output=True)


def before_after(rev: str, *, path: Path | None = None, names: Sequence[str] | None = None,
                 targets: Sequence[str] = TARGETS, log=print) -> list[dict]:
    """Compilations of every catalogue experiment (--quick) and of ``targets`` (default
    runs), at ``rev`` and here with the persistent cache off."""
    rows = []
    with worktree(rev, path) as base:
        here = catalogue(REPO)
        order = list(names) if names else here + [n for n in catalogue(base) if n not in here]
        jobs = [(n, True) for n in order] + [(n, False) for n in targets if not names or n in names]
        for name, quick in jobs:
            row = {"experiment": name, "quick": quick}
            for side, root in (("before", base), ("after", REPO)):
                if not (root / "experiments" / f"{name}.py").exists():
                    row[side] = None
                    continue
                row[side] = run_jax(name, quick=quick, cache="0", root=root)
            rows.append(row)
            log(f"  {name}{' --quick' if quick else ''}: " + "; ".join(
                f"{side} {row[side]['compilations']} compilations, "
                f"{row[side]['compile_seconds']:.2f} s of {row[side]['wall']:.2f} s"
                + ("" if row[side]["returncode"] == 0 else f" (exit {row[side]['returncode']})")
                for side in ("before", "after") if row[side]))
    return rows


def before_after_table(rows: list[dict]) -> str:
    from experiments._cli import table

    def cells(r):
        if r is None:
            return ["-"] * 4
        bad = "" if r["returncode"] == 0 else f" (exit {r['returncode']})"
        return [f"{r['compilations']}{bad}", f"{r['compile_seconds']:.2f}", f"{r['wall']:.2f}",
                f"{100 * r['compile_share']:.0f} %"]

    lines, totals = [], {"before": [0, 0.0, 0.0], "after": [0, 0.0, 0.0]}
    for r in rows:
        lines.append([r["experiment"] + ("" if r["quick"] else " (default)"),
                      *cells(r["before"]), *cells(r["after"])])
        if r["quick"] and r["before"] and r["after"]:
            for side in ("before", "after"):
                t = totals[side]
                t[0] += r[side]["compilations"]
                t[1] += r[side]["compile_seconds"]
                t[2] += r[side]["wall"]
    if any(r["quick"] for r in rows):
        lines.append(["quick catalogue, total"] + [
            c for side in ("before", "after") for c in (
                str(totals[side][0]), f"{totals[side][1]:.2f}", f"{totals[side][2]:.2f}",
                f"{100 * totals[side][1] / max(totals[side][2], 1e-9):.0f} %")])
    return table(lines, ["experiment", "before: compilations", "compile s", "wall s", "share",
                         "after: compilations", "compile s", "wall s", "share"])


# --- the command line -----------------------------------------------------------------

def _worktree_dir(text: str) -> Path:
    """argparse type: where ``git worktree add`` may put a checkout (``--worktree``): a new
    path, or an empty directory."""
    path = Path(text)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise argparse.ArgumentTypeError(f"{text!r} already exists; git worktree add needs "
                                         "a new path or an empty directory")
    return output_dir(text)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="whole_process.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated experiments (default: "
                                  + ",".join(EXPERIMENTS) + "; with --no-torch any of "
                                  "the catalogue, or 'all')")
    p.add_argument("--repeats", type=positive_int, default=3,
                   help="rounds per experiment; the tables show medians (default 3)")
    p.add_argument("--quick", action="store_true", help="the experiments' --quick runs")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch processes")
    p.add_argument("--json", type=output_file, metavar="FILE",
                   help="write everything measured to this file")
    p.add_argument("--before", metavar="REV",
                   help="count compilations at git revision REV and here instead "
                        "(the catalogue --quick, and " + ", ".join(TARGETS) + " default)")
    p.add_argument("--worktree", type=_worktree_dir, default=None, metavar="DIR",
                   help="where --before puts its git worktree: a new path or an empty "
                        "directory, removed afterwards (default: a temp dir)")
    args = p.parse_args(argv)
    if args.worktree is not None and not args.before:
        p.error("argument --worktree: only --before uses a worktree")
    if args.before and subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify",
                                       "--quiet", f"{args.before}^{{commit}}"],
                                      capture_output=True).returncode != 0:
        p.error(f"argument --before: {args.before!r} is not a commit of this repository")
    names = [n.strip() for n in (args.only or "").split(",") if n.strip()]
    if names == ["all"]:
        names = list(CATALOGUE)
    if not args.before:  # checked before anything runs
        # Every catalogue experiment can be timed alone; the PyTorch originals exist for
        # EXPERIMENTS only.
        known = CATALOGUE if args.no_torch else EXPERIMENTS
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"argument --only: unknown experiment(s) {unknown}; choose from "
                    f"{', '.join(known)}"
                    + ("" if args.no_torch else " (any catalogue experiment with --no-torch)"))
    info = machine()
    print(describe(info), flush=True)
    out: dict = {"machine": info}
    if args.before:
        rows = before_after(args.before, path=args.worktree, names=names or None,
                            log=lambda line: print(line, flush=True))
        out["before_after"] = {"rev": args.before, "rows": rows}
        info["load_average_after"] = machine().get("load_average")
        print(f"\ncompilations before ({args.before}) and after (this checkout, "
              f"{CACHE_ENV}=0); load average now {info['load_average_after']}")
        print(before_after_table(rows))
    else:
        rows = out["whole_process"] = []
        for name in names or EXPERIMENTS:
            print(f"timing {name} ...", flush=True)
            rows.append(measure(name, quick=args.quick, repeats=args.repeats,
                                with_torch=not args.no_torch,
                                log=lambda line: print(line, flush=True)))
            if args.json:  # what is measured so far, in case a long run is stopped
                _write(args.json, out)
        info["load_average_after"] = machine().get("load_average")
        print(f"\nwhole processes, medians of {args.repeats}; load average before "
              f"{info.get('load_average')}, after {info['load_average_after']}")
        print(whole_table(rows))
        print("\nwhere the time goes (medians, s):")
        print(breakdown_table(rows))
        print("\nprograms compiled cold:")
        for r in rows:
            programs = r["runs"]["cold"][-1]["programs"]
            print(f"  {r['experiment']}: {program_summary(programs)}")
        for r in rows:
            for f in r["failed"]:
                print(f"FAILED {r['experiment']} {f}")
    if args.json:
        _write(args.json, out)
        print(f"\nwrote {args.json}")
    return out


def _write(path: Path, out: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
