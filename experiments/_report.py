"""The catalogue's report as one self-contained HTML page (figures embedded as base64 PNGs).

``html_report(rows, title=..., facts=...)`` takes the metrics dicts the experiments return
and gives the page: a summary table, then per chapter (the grouping commented in
``experiments/__init__.py``) one card per experiment with the seed's reference, our result,
ok / not ok, time, data source and every figure.
"""

from __future__ import annotations

import base64
import html
import importlib
import re
from pathlib import Path
from typing import Any, Sequence

from experiments import _cli

_CHAPTER = re.compile(r"^\s*#\s*([A-Z]′?)\.\s*(.+?)\s*$")
_NAME = re.compile(r"^\s*\"([a-z0-9_]+)\",?")


def chapters() -> list[tuple[str, list[str]]]:
    """[(title, [names])] in catalogue order, from the ``# A. ...`` comments that group
    ``CATALOGUE`` in ``experiments/__init__.py``."""
    source = (Path(__file__).parent / "__init__.py").read_text(encoding="utf-8")
    groups: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if m := _CHAPTER.match(line):
            groups.append((f"{m[1]}. {m[2][0].upper()}{m[2][1:]}", []))
        elif (m := _NAME.match(line)) and groups:
            groups[-1][1].append(m[1])
    return groups


def _summary_line(name: str) -> str:
    """The first line of the experiment module's docstring."""
    try:
        doc = importlib.import_module(f"experiments.{name}").__doc__ or ""
    except Exception:  # a module that fails to import is reported by the runner
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _values(values: dict[str, Any]) -> str:
    items = _cli.flatten(values or {})
    if not items:
        return "<p class=muted>–</p>"
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_cli.fmt(v, items=8))}</td></tr>"
                   for k, v in items.items())
    return f"<table class=kv>{rows}</table>"


def _figure(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        return f"<p class=bad>missing figure {html.escape(str(p))}</p>"
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    name = html.escape(p.name)
    return (f"<figure><img alt='{name}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{name}</figcaption></figure>")


def _badge(ok: bool) -> str:
    return "<span class='badge ok'>ok</span>" if ok else "<span class='badge bad'>not ok</span>"


def _seconds(m: dict) -> str:
    s = m.get("seconds")
    return "–" if s is None else f"{s:.1f} s"


CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;
 background:#f5f6f8;color:#1d2330}
header{background:#24324a;color:#fff;padding:18px 32px}
header h1{margin:0 0 6px;font-size:24px} header p{margin:2px 0;color:#cfd8e6}
main{max-width:1200px;margin:0 auto;padding:12px 24px 48px}
h2{margin:32px 0 10px;border-bottom:2px solid #d5dae3;padding-bottom:4px}
table{border-collapse:collapse}
table.summary{width:100%;background:#fff;box-shadow:0 1px 3px #0002}
.summary th,.summary td{padding:5px 8px;border-bottom:1px solid #e4e7ec;text-align:left;
 vertical-align:top;font-size:13px}
.summary th{background:#eef1f5}
.summary td:nth-child(5){white-space:nowrap}
.summary tr.chapter td{background:#f8f9fb;font-weight:600}
section.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002;margin:14px 0;
 padding:14px 18px}
.card h3{margin:0 0 2px;font-size:18px} .card h3 code{font-size:18px}
.meta{color:#5a6478;font-size:13px;margin:2px 0 10px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.cols h4{margin:0 0 4px;font-size:13px;text-transform:uppercase;color:#5a6478}
table.kv th,table.kv td{padding:2px 8px 2px 0;font-size:13px;text-align:left;vertical-align:top}
table.kv th{color:#3b4658;font-weight:500;white-space:nowrap}
.figs{display:flex;flex-wrap:wrap;gap:12px;margin-top:10px}
figure{margin:0;flex:1 1 360px;max-width:560px}
figure img{width:100%;border:1px solid #e4e7ec}
figcaption{font-size:12px;color:#5a6478}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 vertical-align:middle;margin-left:6px}
.badge.ok{background:#d9f2df;color:#17662c} .badge.bad{background:#fbdada;color:#9c1c1c}
.bad{color:#9c1c1c} .muted{color:#8a93a5}
a{color:#2457a6;text-decoration:none}
"""


def html_report(rows: Sequence[dict], *, title: str, facts: Sequence[str] = ()) -> str:
    """The page for ``rows`` (metrics dicts, as ``experiments.<name>.main`` returns them)."""
    by_name = {m["experiment"]: m for m in rows}
    groups = [(t, [n for n in names if n in by_name]) for t, names in chapters()]
    grouped = {n for _, names in groups for n in names}
    rest = [m["experiment"] for m in rows if m["experiment"] not in grouped]
    if rest:
        groups.append(("Other", rest))
    groups = [(t, names) for t, names in groups if names]
    bad = [m["experiment"] for m in rows if not m.get("ok")]

    summary = ["<table class=summary><tr><th>experiment</th><th>seed's reference</th>"
               "<th>ours</th><th></th><th>time</th><th>data</th></tr>"]
    for chapter, names in groups:
        summary.append(f"<tr class=chapter><td colspan=6>{html.escape(chapter)}</td></tr>")
        for n in names:
            m = by_name[n]
            summary.append(
                f"<tr><td><a href='#{n}'>{n}</a></td>"
                f"<td>{html.escape(_cli.brief(m.get('reference', {}), 2, 90))}</td>"
                f"<td>{html.escape(_cli.brief(m.get('result', {}), 2, 90))}</td>"
                f"<td>{_badge(m.get('ok'))}</td><td>{_seconds(m)}</td>"
                f"<td>{html.escape(str(m.get('data_source', '')))}</td></tr>")
    summary.append("</table>")

    body = []
    for chapter, names in groups:
        body.append(f"<h2>{html.escape(chapter)}</h2>")
        for n in names:
            m = by_name[n]
            figures = "".join(_figure(f) for f in m.get("figures", []))
            body.append(
                f"<section class=card id='{n}'><h3><code>{n}</code>{_badge(m.get('ok'))}</h3>"
                f"<p class=meta>{html.escape(_summary_line(n))}<br>"
                f"{_seconds(m)} · {html.escape(str(m.get('mode', '')))} · "
                f"{html.escape(str(m.get('backend', '')))} · data: "
                f"{html.escape(str(m.get('data_source', '–')))}</p>"
                f"<div class=cols><div><h4>the seed's reference</h4>"
                f"{_values(m.get('reference', {}))}</div>"
                f"<div><h4>ours</h4>{_values(m.get('result', {}))}</div></div>"
                f"<div class=figs>{figures}</div></section>")
    verdict = (f"{len(rows) - len(bad)} of {len(rows)} ok" +
               (f"; not ok: {', '.join(bad)}" if bad else ""))
    head = "".join(f"<p>{html.escape(f)}</p>" for f in [verdict, *facts])
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1>{head}</header><main>"
            f"{''.join(summary)}{''.join(body)}</main></body></html>\n")
