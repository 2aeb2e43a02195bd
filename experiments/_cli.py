"""The one command-line helper every experiment uses.

``run(name, doc, body, argv)`` parses the shared flags (``--quick``, ``--seed``, ``--out``,
``--mode``, ``--tensorboard``), runs ``body(args) -> Outcome``, prints the result next to
the reference, writes ``OUT/metrics.json`` and returns the metrics dict. A body that trains
passes its ``fit`` callbacks through :func:`tensorboard` to log live curves. Run from the
command line (``argv`` None) it first turns on JAX's persistent compilation cache
(:func:`compilation_cache`), so a second run of the same experiment compiles almost
nothing; called from Python it changes no global JAX setting. The schema, one for every
experiment::

    {"experiment", "mode", "backend", "seconds", "data_source",
     "result": {...}, "reference": {...}, "ok": bool, "figures": [...]}
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np

from jaxbasics.train import MODES


@dataclasses.dataclass
class Outcome:
    """What an experiment's body returns. Values must be numbers, strings, lists or dicts."""

    result: dict[str, Any]
    reference: dict[str, Any]
    ok: bool
    data_source: str = "synthetic"
    figures: list[str] = dataclasses.field(default_factory=list)


def jsonable(value: Any) -> Any:
    """Numbers, arrays and containers as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, jax.Array, np.generic)):
        return np.asarray(value).tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level: {"a": {"b": 1}} -> {"a b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key} "))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def fmt(value: Any, *, items: int | None = None) -> str:
    """A short human form of a result value; lists longer than ``items`` are elided."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        if items is not None and len(value) > items:
            shown = [fmt(v) for v in value[:items - 1]] + ["…", fmt(value[-1])]
            return "[" + ", ".join(shown) + f"] ({len(value)})"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def brief(values: dict, n: int = 3, width: int = 80) -> str:
    """The first ``n`` entries of a flattened result as one line of at most ``width``."""
    line = "; ".join(f"{k} {fmt(v, items=4)}" for k, v in list(flatten(values).items())[:n])
    return line if len(line) <= width else line[:width - 1] + "…"


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table with aligned columns."""
    cells = [list(map(str, header))] + [[fmt(c) if not isinstance(c, str) else c for c in r]
                                        for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def keys(seed, n: int) -> tuple:
    """``n`` keys split from ``jax.random.key(seed)`` (or from ``seed`` if it is a key), by
    one compiled program (creating, splitting and unpacking keys eagerly compiles three)."""
    return _keys(seed, n)


@functools.partial(jax.jit, static_argnums=1)
def _keys(seed, n: int) -> tuple:
    is_key = jax.numpy.issubdtype(seed.dtype, jax.dtypes.prng_key)
    return tuple(jax.random.split(seed if is_key else jax.random.key(seed), n))


CACHE_ENV = "JAXBASICS_COMPILATION_CACHE"


def compilation_cache() -> Path | None:
    """Turn on JAX's persistent compilation cache for this process; return its directory.

    The directory is ``$XDG_CACHE_HOME/jaxbasics/jax`` (``~/.cache/jaxbasics/jax``), or
    ``$JAXBASICS_COMPILATION_CACHE`` if that names a directory; ``JAXBASICS_COMPILATION_CACHE=0``
    turns it off, and a ``JAX_COMPILATION_CACHE_DIR`` the user set is left as it is. Every
    program is cached, however quick to compile: the experiments' programs are small.
    """
    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = Path(setting) if setting else home / "jaxbasics" / "jax"
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory


def parser(doc: str | None, *, default_mode: str = "fused",
           default_seed: int = 0) -> argparse.ArgumentParser:
    """The shared flags. ``doc``'s first line is the description."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a few seconds of work (tests and the catalogue runner use it)")
    p.add_argument("--seed", type=int, default=default_seed, help="PRNG seed (default %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for metrics.json and figures (default runs/<experiment>)")
    p.add_argument("--mode", choices=MODES, default=default_mode,
                   help="eager: no jit; jit: a compiled step per batch; fused: whole "
                        "epochs in one compiled scan (default %(default)s)")
    p.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                   help="log live curves and images as TensorBoard event files in "
                        "DIR/<experiment> (default: off); view with tensorboard --logdir DIR")
    add_parallel_arguments(p)
    return p


def add_parallel_arguments(p: argparse.ArgumentParser) -> None:
    """``--devices`` and the multi-process flags (see :func:`parallel_setup`)."""
    g = p.add_argument_group("several devices and processes (data parallel)")
    g.add_argument("--devices", type=int, default=None, metavar="N",
                   help="devices per process to split each batch over (on the CPU, N "
                        "simulated devices); default: one device, the plain path")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0's address for jax.distributed (env JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=int, default=None, metavar="P",
                   help="processes in the run, one per host or GPU (env JAX_NUM_PROCESSES)")
    g.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="this process, 0..P-1; only 0 prints and writes (env JAX_PROCESS_ID)")


def parallel_setup(args: argparse.Namespace) -> None:
    """Configure JAX for ``--devices`` and the multi-process flags, before any computation:
    N simulated CPU devices, ``jax.distributed.initialize`` (gloo on the CPU), and
    ``args.mesh`` for ``fit(mesh=)``: None on one device."""
    from jaxbasics import parallel
    devices = getattr(args, "devices", None)
    if devices is not None and devices < 1:
        raise ValueError(f"--devices must be at least 1; got {devices}")
    if devices and devices > 1:
        try:
            jax.config.update("jax_num_cpu_devices", devices)
        except RuntimeError:  # JAX already started (called from Python): use what is there
            pass
    parallel.distributed_init(getattr(args, "coordinator", None),
                              getattr(args, "num_processes", None),
                              getattr(args, "process_id", None))
    if jax.process_count() > 1:
        if devices and jax.local_device_count() != devices:
            raise ValueError(f"--devices {devices}: this process has {jax.local_device_count()} "
                             "devices; with several processes use them all (on a GPU host, "
                             "choose them with CUDA_VISIBLE_DEVICES)")
        args.mesh = parallel.make_mesh()
    else:
        args.mesh = parallel.active(devices)


def tensorboard(args: argparse.Namespace, *, on_log: Callable | None = None,
                on_epoch: Callable | None = None,
                learning_rate: float | Callable[[int], Any] | None = None) -> dict[str, Any]:
    """``fit``'s ``on_log``/``on_epoch`` for this run: the given ones, and with
    ``--tensorboard DIR`` also writing to ``DIR/<experiment>`` (training metrics per logging
    step, what ``on_epoch`` returns, the learning rate: the optimizer state's, else
    ``learning_rate``). Use as ``fit(..., **_cli.tensorboard(args, on_log=.., on_epoch=..))``.
    :func:`run` adds the experiment's figures as images and closes the files at the end.
    """
    logger = tensorboard_logger(args, learning_rate=learning_rate)
    if logger is None:
        return {"on_log": on_log, "on_epoch": on_epoch}
    return logger.hooks(on_log=on_log, on_epoch=on_epoch)


def tensorboard_logger(args: argparse.Namespace, *, learning_rate=None):
    """The run's :class:`jaxbasics.tensorboard.TensorBoard` (one per run, made on first
    use), or None without ``--tensorboard``."""
    if getattr(args, "tensorboard", None) is None:
        return None
    if getattr(args, "tensorboard_logger", None) is None:
        from jaxbasics.tensorboard import TensorBoard
        name = getattr(args, "experiment", None) or "run"
        args.tensorboard_logger = TensorBoard(Path(args.tensorboard) / name,
                                              learning_rate=learning_rate)
    return args.tensorboard_logger


def _close_tensorboard(args: argparse.Namespace, outcome: Outcome | None) -> None:
    """Add the figures of a finished run as images, close the files, say how to view them."""
    logger = getattr(args, "tensorboard_logger", None)
    figures = outcome.figures if outcome is not None else []
    if logger is None:
        if getattr(args, "tensorboard", None) is not None and outcome is not None:
            print(f"note: {args.experiment} does not log to TensorBoard yet; "
                  "--tensorboard had no effect")
        return
    try:
        for figure in figures:
            if Path(figure).suffix == ".png" and Path(figure).is_file():
                logger.png(f"figures/{Path(figure).stem}", figure, logger.last_step)
    finally:
        logger.close()
        args.tensorboard_logger = None
    print(f"TensorBoard: wrote {logger.logdir}; view with: "
          f"tensorboard --logdir {args.tensorboard} (then open http://localhost:6006)")


def run(name: str, doc: str | None, body: Callable[[argparse.Namespace], Outcome],
        argv: Sequence[str] | None = None, *, default_mode: str = "fused",
        add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> dict:
    """Parse ``argv``, run ``body(args)``, report, write ``metrics.json``; return the metrics.

    ``args.out`` is the output directory (created); ``body`` writes its figures there.
    """
    p = parser(doc, default_mode=default_mode)
    if add_arguments is not None:
        add_arguments(p)
    args = p.parse_args(argv)
    try:
        parallel_setup(args)  # before any JAX computation
    except ValueError as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    if argv is None:
        compilation_cache()
    if jax.process_index() > 0:  # only process 0 prints and writes; the others run alike
        return _quiet_run(name, doc, body, argv, args, p)
    args.out = Path(args.out) if args.out is not None else Path("runs") / name
    args.out.mkdir(parents=True, exist_ok=True)
    args.experiment, args.tensorboard_logger = name, None
    start = time.perf_counter()
    outcome = None
    try:
        outcome = body(args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        if argv is not None:  # called from Python: let the caller see the exception
            raise
        p.exit(2, f"{p.prog}: error: {e}\n")  # the command line: one line, like argparse's
    except RuntimeError as e:
        _lost_process(e, argv, p)
    finally:
        _close_tensorboard(args, outcome)
    seconds = time.perf_counter() - start
    metrics = jsonable({
        "experiment": name, "mode": args.mode, "backend": jax.default_backend(),
        "seconds": round(seconds, 3), "data_source": outcome.data_source,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "result": outcome.result, "reference": outcome.reference, "ok": bool(outcome.ok),
        "figures": [str(f) for f in outcome.figures],
    })
    result, reference = flatten(metrics["result"]), flatten(metrics["reference"])
    keys = list(reference) + [k for k in result if k not in reference]
    rows = [[k, fmt(result.get(k, "")), fmt(reference.get(k, ""))] for k in keys]
    print(f"\n== {name} ({args.mode}, {metrics['backend']}, {seconds:.2f} s, "
          f"data: {outcome.data_source})")
    print(table(rows, ["quantity", "result", "reference"]))
    print(f"{'ok' if outcome.ok else 'NOT OK'}: {name}; wrote {args.out / 'metrics.json'}"
          + (f" and {len(outcome.figures)} figure(s)" if outcome.figures else ""))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _lost_process(e: RuntimeError, argv, p: argparse.ArgumentParser) -> None:
    """On the command line, another process of the run died: one line, exit 1 (``os._exit``,
    not jax.distributed's shutdown barrier, which would wait for the dead, then abort)."""
    from jaxbasics.parallel import LostProcess
    if argv is not None or not isinstance(e, LostProcess):
        raise e
    sys.stderr.write(f"{p.prog}: error: {e}\n")
    sys.stderr.flush()
    os._exit(1)


def _quiet_run(name, doc, body, argv, args, p) -> dict:
    """:func:`run` for processes other than 0: the same body (every process takes part in
    every computation), its output to /dev/null and its files to a temporary directory."""
    import contextlib
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as null, \
            contextlib.redirect_stdout(null):
        args.out, args.tensorboard, args.experiment, args.tensorboard_logger = (
            Path(tmp), None, name, None)
        try:
            outcome = body(args)
        except RuntimeError as e:
            _lost_process(e, argv, p)
    return {"experiment": name, "process": jax.process_index(), "ok": bool(outcome.ok)}


def torch_original(name: str) -> Callable[[int], float]:
    """The PyTorch original ``experiments._torch_originals.<name>``, imported when called."""
    def run(units: int) -> float:
        import importlib
        return getattr(importlib.import_module("experiments._torch_originals"), name)(units)
    return run
