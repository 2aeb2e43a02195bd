"""The catalogue's HTML report: chapters from experiments/__init__.py, figures embedded."""

import base64
import json
import re

import numpy as np
import pytest

from experiments import CATALOGUE, _report
from jaxbasics import plots


def test_chapters_cover_the_catalogue_once_in_order():
    groups = _report.chapters()
    names = [n for _, group in groups for n in group]
    assert names == CATALOGUE
    titles = [t.split(".")[0] for t, _ in groups]
    assert titles[:4] == ["A", "B", "C", "D"] and "D′" in titles
    assert dict(groups)[next(t for t, _ in groups if t.startswith("D′"))] == ["visualization"]


def test_html_report_embeds_figures_and_verdicts(tmp_path):
    fig = plots.curves(tmp_path / "loss.png", {"train": np.linspace(1, 0, 20)})
    rows = [
        {"experiment": "lenet", "ok": True, "seconds": 29.4, "mode": "fused", "backend": "cpu",
         "data_source": "mnist idx (/data)", "result": {"test_accuracy": 0.9878},
         "reference": {"test_accuracy": ">= 0.985"}, "figures": [str(fig)]},
        {"experiment": "linear_regression", "ok": False, "seconds": None,
         "result": {"error": "ValueError: <bad>"}, "reference": {}},
        {"experiment": "someone_elses_row", "ok": True, "seconds": 1.0, "result": {},
         "reference": {}, "figures": [str(tmp_path / "gone.png")]},
    ]
    page = _report.html_report(rows, title="t", facts=["CPU: test"])
    # Chapters in catalogue order, unknown rows last; the verdict and facts in the header.
    a, b, other = (page.index(f"<h2>{t}") for t in ("A. ", "B. ", "Other"))
    assert a < b < other
    assert "2 of 3 ok; not ok: linear_regression" in page and "CPU: test" in page
    assert page.count("badge ok") == 4 and page.count("badge bad") == 2  # table + card each
    # The figure is inlined byte for byte; a missing one is named, not a broken link.
    data = re.search(r"src='data:image/png;base64,([^']+)'", page)[1]
    assert base64.b64decode(data) == fig.read_bytes()
    assert "missing figure" in page and "gone.png" in page
    assert "&lt;bad&gt;" in page and "<bad>" not in page  # escaped
    assert "0.9878" in page and "&gt;= 0.985" in page and "29.4 s" in page


def test_runner_passes_data_flags_only_where_taken():
    import importlib

    from experiments.__main__ import _takes_data_flags
    taken = {n for n in CATALOGUE if _takes_data_flags(importlib.import_module(f"experiments.{n}"))}
    assert {"mnist_first", "mnist_mlp", "lenet", "visualization"} <= taken
    assert not taken & {"linear_regression", "himmelblau", "modules"}


def test_ctrl_c_in_the_catalogue_writes_the_report_of_what_finished(tmp_path, monkeypatch,
                                                                     capsys):
    """Ctrl-C during the second experiment: the first one's report is written (marked
    interrupted), one line on stderr, exit status 130, no traceback."""
    import sys

    from experiments import __main__ as catalogue
    from experiments import _cli, gradient_descent_1d

    def interrupted(argv):
        raise KeyboardInterrupt
    monkeypatch.setattr(gradient_descent_1d, "main", interrupted)
    monkeypatch.setattr(_cli, "command_line_settings", lambda: None)
    monkeypatch.setattr(sys, "argv", ["experiments", "--out", str(tmp_path), "--only",
                                      "autograd_basics", "gradient_descent_1d"])
    assert catalogue.main() == 130
    rows = json.loads((tmp_path / "report.json").read_text())
    assert [r["experiment"] for r in rows] == ["autograd_basics"] and rows[0]["ok"]
    assert "interrupted (Ctrl-C) during gradient_descent_1d: 1 of 2" in (
        tmp_path / "report.html").read_text()
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].endswith("interrupted during gradient_descent_1d; the report has the 1 "
                            "experiment(s) that finished")
    assert not any("Traceback" in line for line in err)
    with pytest.raises(KeyboardInterrupt):  # from Python: the caller sees it
        catalogue.main(["--out", str(tmp_path), "--only", "gradient_descent_1d"])
