"""Run the whole catalogue in --quick mode and print one table.

    python -m experiments [--out DIR] [--only NAME ...] [--full] [--data-dir DIR]

Each experiment writes DIR/<name>/metrics.json and its figures; the runner writes
DIR/report.json, DIR/report.md and DIR/report.html (one self-contained page: per chapter,
each experiment's reference, result, ok, time, data source and figures) and exits non-zero
if any experiment is not ok or fails. ``--data-dir`` (the four MNIST IDX files) runs the
experiments that take data flags on that data: ``--full --data-dir ../shared/data/mnist``
is the full-MNIST version.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

import jax

from experiments import CATALOGUE, _cli, _report


def _report_md(rows: list[dict], out: Path) -> str:
    lines = ["# jaxbasics: the catalogue", "",
             "| experiment | ok | seconds | data | result | reference |", "|---|---|---|---|---|---|"]
    for m in rows:
        res = "; ".join(f"{k} {_cli.fmt(v)}" for k, v in _cli.flatten(m.get("result", {})).items())
        ref = "; ".join(f"{k} {_cli.fmt(v)}" for k, v in _cli.flatten(m.get("reference", {})).items())
        lines.append(f"| {m['experiment']} | {'ok' if m.get('ok') else 'NOT OK'} | "
                     f"{m.get('seconds', '')} | {m.get('data_source', '')} | {res} | {ref} |")
    for m in rows:
        lines += ["", f"## {m['experiment']}", ""]
        for f in m.get("figures", []):
            lines.append(f"![{Path(f).name}]({Path(f).relative_to(out) if Path(f).is_relative_to(out) else f})")
    return "\n".join(lines) + "\n"


def _takes_data_flags(module) -> bool:
    """Whether the experiment's command line has ``--data-dir``."""
    add = getattr(module, "add_arguments", None)
    if add is None:
        return False
    p = _cli.parser(None)
    add(p)
    return "--data-dir" in p._option_string_actions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=_cli.output_dir, default=Path("runs/catalogue"),
                   help="report directory (default %(default)s)")
    p.add_argument("--only", nargs="+", choices=CATALOGUE, metavar="NAME",
                   help="run only these experiments")
    p.add_argument("--full", action="store_true", help="full settings instead of --quick (slow)")
    p.add_argument("--data-dir", type=_cli.existing_dir, default=None,
                   help="the four MNIST IDX files: experiments with data flags run on them "
                        "(--source idx --data-dir DIR)")
    args = p.parse_args(argv)
    if argv is None:
        _cli.command_line_settings()
    names = args.only or CATALOGUE
    rows, summary = [], []
    start = time.perf_counter()
    interrupted = None
    for name in names:
        module = importlib.import_module(f"experiments.{name}")
        flags = ([] if args.full else ["--quick"]) + ["--out", str(args.out / name)]
        if args.data_dir is not None and _takes_data_flags(module):
            flags += ["--source", "idx", "--data-dir", str(args.data_dir)]
        try:
            metrics = module.main(flags)
        except KeyboardInterrupt:  # Ctrl-C: report what finished, then stop
            interrupted = name
            break
        except (Exception, SystemExit) as error:  # one failure must not hide the others
            if isinstance(error, (ValueError, TypeError, FileNotFoundError)):
                print(f"{name}: error: {error}", file=sys.stderr)  # bad input: one line
            elif not isinstance(error, SystemExit):  # (argparse has said why)
                traceback.print_exc()
            metrics = {"experiment": name, "ok": False, "seconds": None,
                       "result": {"error": f"{type(error).__name__}: {error}"}, "reference": {}}
        rows.append(metrics)
        summary.append([name, _cli.brief(metrics["reference"]), _cli.brief(metrics["result"]),
                        "ok" if metrics["ok"] else "NOT OK", metrics["seconds"] or "-"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "report.md").write_text(_report_md(rows, args.out))
    total = time.perf_counter() - start
    kind = ("full" if args.full else "quick") + (f", data {args.data_dir}" if args.data_dir else "")
    facts = [f"{'full' if args.full else 'quick'} settings"
             f"{f'; data: {args.data_dir}' if args.data_dir else ''}; {total:.0f} s in all; "
             f"{datetime.datetime.now().isoformat(timespec='minutes')}",
             f"jax {jax.__version__} on {jax.default_backend()}; CPU: {_cpu_model()}; "
             f"Python {platform.python_version()}"]
    if interrupted is not None:
        facts.append(f"interrupted (Ctrl-C) during {interrupted}: {len(rows)} of "
                     f"{len(names)} experiments finished")
    (args.out / "report.html").write_text(
        _report.html_report(rows, title="jaxbasics: the catalogue", facts=facts),
        encoding="utf-8")
    bad = [r["experiment"] for r in rows if not r["ok"]]
    print(f"\n== The catalogue ({kind}, {total:.1f} s)")
    print(_cli.table(summary, ["experiment", "reference", "result", "ok", "seconds"]))
    print(f"\n{len(rows) - len(bad)} of {len(rows)} ok; report: {args.out / 'report.html'} "
          f"(and report.md)")
    if bad:
        print("not ok: " + ", ".join(bad))
    if interrupted is not None:
        if argv is not None:  # called from Python: the caller sees the interrupt
            raise KeyboardInterrupt(f"the catalogue was interrupted during {interrupted}")
        print(f"\n{p.prog}: interrupted during {interrupted}; the report has the "
              f"{len(rows)} experiment(s) that finished", file=sys.stderr)
        return 130
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
