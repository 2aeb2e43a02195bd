"""Run the whole catalogue in --quick mode and print one table.

    python -m experiments [--out DIR] [--only NAME ...] [--full]

Each experiment writes DIR/<name>/metrics.json and its figures; the runner writes
DIR/report.json and DIR/report.md (every figure next to its reference) and exits non-zero
if any experiment is not ok or fails.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from experiments import CATALOGUE, _cli


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/catalogue"),
                   help="report directory (default %(default)s)")
    p.add_argument("--only", nargs="+", choices=CATALOGUE, metavar="NAME",
                   help="run only these experiments")
    p.add_argument("--full", action="store_true", help="full settings instead of --quick (slow)")
    args = p.parse_args(argv)
    if argv is None:
        _cli.compilation_cache()
    names = args.only or CATALOGUE
    rows, summary = [], []
    start = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"experiments.{name}")
        flags = ([] if args.full else ["--quick"]) + ["--out", str(args.out / name)]
        try:
            metrics = module.main(flags)
        except Exception as error:  # one broken experiment must not hide the others
            traceback.print_exc()
            metrics = {"experiment": name, "ok": False, "seconds": None,
                       "result": {"error": f"{type(error).__name__}: {error}"}, "reference": {}}
        rows.append(metrics)
        summary.append([name, _cli.brief(metrics["reference"]), _cli.brief(metrics["result"]),
                        "ok" if metrics["ok"] else "NOT OK", metrics["seconds"] or "-"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "report.md").write_text(_report_md(rows, args.out))
    bad = [r["experiment"] for r in rows if not r["ok"]]
    print(f"\n== The catalogue ({'full' if args.full else 'quick'}, "
          f"{time.perf_counter() - start:.1f} s)")
    print(_cli.table(summary, ["experiment", "reference", "result", "ok", "seconds"]))
    print(f"\n{len(rows) - len(bad)} of {len(rows)} ok; report: {args.out / 'report.md'}")
    if bad:
        print("not ok: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
