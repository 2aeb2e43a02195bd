"""What the experiment tests share."""

import json

SCHEMA = {"experiment", "mode", "backend", "seconds", "data_source", "result", "reference", "ok"}


def run_quick(module, tmp_path, *flags):
    """``module.main`` in --quick mode writing to tmp_path; checks the metrics schema, that
    metrics.json holds what main returned, and that every figure was written."""
    metrics = module.main(["--quick", "--out", str(tmp_path), *flags])
    assert SCHEMA <= set(metrics)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    for figure in metrics["figures"]:
        assert (tmp_path / figure.split("/")[-1]).stat().st_size > 10_000
    return metrics
