"""The one command-line helper every experiment uses.

``run(name, doc, body, argv)`` parses the shared flags (``--quick``, ``--seed``, ``--out``,
``--mode``, ``--tensorboard``), runs ``body(args) -> Outcome``, prints the result next to
the reference, writes ``OUT/metrics.json`` and returns the metrics dict. An experiment that
trains adds the knobs with :func:`add_training_arguments` (``--lr``, ``--batch-size``,
``--epochs``, ``--optimizer``, ``--checkpoint-dir``, ``--resume``) and trains through
:func:`train`, ``fit`` with the command line's options: TensorBoard, checkpoints and
resume, Ctrl-C, progress bar, chunked compiled calls.

From the command line (``argv`` None) :func:`run` first makes the process's settings
(:func:`command_line_settings`: the persistent compilation cache, the compiler's freed
memory given back to the system) and ends the process the same way for every experiment: a
bad value is one line naming the flag, exit 2; a non-finite loss one line naming the step,
the loss and the learning rate, exit 1; a result below its reference exit 1; Ctrl-C one
line saying how to resume, exit 130; never a traceback. Called from Python
(``main(argv)``) it changes no global JAX setting and raises instead.
The schema, one for every experiment::

    {"experiment", "mode", "backend", "seconds", "data_source",
     "result": {...}, "reference": {...}, "ok": bool, "figures": [...]}
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import math
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np

from jaxbasics import memory
from jaxbasics import train as engine
from jaxbasics._once import jit_once
from jaxbasics.train import MODES


@dataclasses.dataclass
class Outcome:
    """What an experiment's body returns. Values must be numbers, strings, lists or dicts.

    ok: whether the result meets the reference. judged: whether the reference applies to
    this run's settings; None (the usual case) lets :func:`run` decide: judged unless a flag
    that defines the run other than ``--seed``, ``--quick`` and ``--dataset`` differs from
    its default (see :func:`changed_flags`). A run that is not judged exits 0 and says so.
    """

    result: dict[str, Any]
    reference: dict[str, Any]
    ok: bool
    data_source: str = "synthetic"
    figures: list[str] = dataclasses.field(default_factory=list)
    judged: bool | None = None


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
    return seeded(_keys, seed, n)


def seeded(fn: Callable[..., Any], seed, n: int, *static: Any) -> Any:
    """``fn(k_1, ..., k_n, *static)``, the keys split as :func:`keys` splits them, in one
    compiled program: the keys, the initial parameters and the data an experiment draws
    from them compile once together (each ``jax.random`` program alone costs 0.1-0.5 s to
    compile). ``fn`` is a module-level function (a new lambda per call would compile
    again); ``static`` are hashable settings (sizes, an init's name)."""
    return _seeded(fn, seed, n, static)


def _keys(*keys):
    return keys


@functools.partial(jit_once, static_argnums=(0, 2, 3))
def _seeded(fn, seed, n: int, static: tuple):
    is_key = jax.numpy.issubdtype(seed.dtype, jax.dtypes.prng_key)
    return fn(*jax.random.split(seed if is_key else jax.random.key(seed), n), *static)


CACHE_ENV = "JAXBASICS_COMPILATION_CACHE"
RELEASE_ENV = "JAXBASICS_RELEASE_MEMORY"  # 0: keep the compiler's freed memory (glibc's arenas)


def _switched_off(variable: str) -> bool:
    """Whether the environment variable says 0, off, false or no."""
    return os.environ.get(variable, "").lower() in ("0", "off", "false", "no")


def command_line_settings() -> None:
    """What the command line (an experiment's or the catalogue's) sets for its process:
    JAX's persistent compilation cache (:func:`compilation_cache`) and the memory XLA's
    compiler frees given back to the system after each compilation
    (:func:`jaxbasics.memory.release_after_compiles`, unless ``JAXBASICS_RELEASE_MEMORY=0``).
    """
    compilation_cache()
    if not _switched_off(RELEASE_ENV):
        memory.release_after_compiles()


def compilation_cache() -> Path | None:
    """Turn on JAX's persistent compilation cache for this process; return its directory.

    The directory is ``$XDG_CACHE_HOME/jaxbasics/jax`` (``~/.cache/jaxbasics/jax``), or
    ``$JAXBASICS_COMPILATION_CACHE`` if that names a directory; ``JAXBASICS_COMPILATION_CACHE=0``
    turns it off, and a ``JAX_COMPILATION_CACHE_DIR`` the user set is left as it is. Every
    program is cached, however quick to compile: the experiments' programs are small.
    """
    setting = os.environ.get(CACHE_ENV, "")
    if _switched_off(CACHE_ENV):
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = Path(setting) if setting else home / "jaxbasics" / "jax"
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory


# The argparse types live in a module without JAX (the benchmarks' parent processes use them
# too); the experiments reach them as _cli.positive_int and so on.
from experiments._args import (MAX_DEVICES, device_count, existing_dir,  # noqa: E402,F401
                               non_negative_float, non_negative_int, output_dir, output_file,
                               positive_float, positive_int, seed_int)


class UsageError(ValueError):
    """A flag's value the experiment cannot use (known only once the data is loaded, say).
    The message starts ``argument --flag:``, like argparse's; the command line prints it as
    one line and exits 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line (``prog: error: ...``, exit 2): no usage
    block in front (``--help`` shows it)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(doc: str | None, *, default_mode: str = "fused", default_seed: int = 0,
           prog: str | None = None) -> argparse.ArgumentParser:
    """The shared flags. ``doc``'s first line is the description."""
    p = ArgumentParser(prog=prog, description=doc,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a few seconds of work (tests and the catalogue runner use it)")
    p.add_argument("--seed", type=seed_int, default=default_seed,
                   help="PRNG seed, a non-negative integer (default %(default)s)")
    p.add_argument("--out", type=output_dir, default=None,
                   help="directory for metrics.json and figures (default runs/<experiment>)")
    p.add_argument("--mode", choices=MODES, default=default_mode,
                   help="eager: no jit; jit: a compiled step per batch; fused: whole "
                        "epochs in one compiled scan (default %(default)s)")
    p.add_argument("--tensorboard", type=output_dir, default=None, metavar="DIR",
                   help="log live curves and images as TensorBoard event files in "
                        "DIR/<experiment> (default: off); view with tensorboard --logdir DIR")
    add_parallel_arguments(p)
    return p


def add_parallel_arguments(p: argparse.ArgumentParser) -> None:
    """``--devices`` and the multi-process flags (see :func:`parallel_setup`)."""
    g = p.add_argument_group("several devices and processes (data parallel)")
    g.add_argument("--devices", type=device_count, default=None, metavar="N",
                   help="devices per process to split each batch over (on the CPU, N "
                        "simulated devices); default: one device, the plain path")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0's address for jax.distributed (env JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=positive_int, default=None, metavar="P",
                   help="processes in the run, one per host or GPU (env JAX_NUM_PROCESSES)")
    g.add_argument("--process-id", type=non_negative_int, default=None, metavar="I",
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



def add_training_arguments(p: argparse.ArgumentParser, *, lr: float | None,
                           batch_size: int | None = None, epochs: int | None = None,
                           optimizer: str | None = None, optimizers: Sequence[str] = ("sgd", "adam"),
                           lr_help: str = "", batch_help: str = "", epochs_help: str = "",
                           checkpoints: bool = True) -> None:
    """The knobs of an experiment that trains, with the seed's values as defaults.

    ``batch_size=None`` leaves ``--batch-size`` out (full-batch experiments); ``optimizer``
    None leaves ``--optimizer`` out (the seed has no choice). A default given as None with
    a help text means "the seed's, depending on the data" (the text says which). Also adds
    ``--checkpoint-dir`` and ``--resume``, which :func:`train` acts on (``checkpoints=False``:
    not, for an experiment that does not train through it).
    """
    def shown(default, text):
        return text or f"default {default}"

    p.add_argument("--lr", type=positive_float, default=lr, metavar="RATE",
                   help="learning rate, " + shown(lr, lr_help))
    if batch_size is not None or batch_help:
        p.add_argument("--batch-size", type=positive_int, default=batch_size, metavar="N",
                       help="examples per step, " + shown(batch_size, batch_help))
    # a help text that names its own unit (full-batch steps, iterations) stands alone
    unit = ("passes over the training data, "
            if not epochs_help or epochs_help.startswith(("default", "at most")) else "")
    p.add_argument("--epochs", type=positive_int, default=epochs, metavar="N",
                   help=unit + shown(epochs, epochs_help))
    if optimizer is not None:
        p.add_argument("--optimizer", choices=tuple(optimizers), default=optimizer,
                       help=f"default {optimizer} (the seed's)")
    if not checkpoints:
        return
    p.add_argument("--checkpoint-dir", type=output_dir, default=None, metavar="DIR",
                   help=f"save the training state to DIR at the end, on Ctrl-C and after "
                        f"an epoch when {SAVE_SECONDS:g} s have passed since the last save "
                        "(Orbax; the last 3 kept)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --checkpoint-dir")


# Between epochs the state is saved once this many seconds have passed since the last save
# (and always at the end and on Ctrl-C): a save takes about 45 ms (Orbax, 2-core Zen 4), and
# saving after each of minibatch_gd's one-step epochs made its run 40x as long.
SAVE_SECONDS = 5.0
# Examples per compiled call when an epoch is longer: about half a second of LeNet on a
# laptop CPU, so Ctrl-C and the progress bar answer within about a second.
EXAMPLES_PER_CALL = 4096
# Runs over this many examples in all get a progress bar (on a terminal).
PROGRESS_EXAMPLES = 100_000


def steps_per_call(n: int, batch_size: int, examples_per_call: int = EXAMPLES_PER_CALL) -> int | None:
    """Steps per compiled call so that one call handles about ``examples_per_call``
    examples: None (whole epochs) when an epoch is that short, else the epoch cut into
    equal calls plus one remainder (``fit`` runs both with one compiled program)."""
    per_epoch = n // batch_size
    target = max(1, examples_per_call // batch_size)
    if target >= per_epoch:
        return None
    calls = math.ceil(per_epoch / target)
    return math.ceil(per_epoch / calls)


def _history_path(directory: Path) -> Path:
    return directory / "history.npz"


# Flags a resumed run may change: where it writes and reads, how it runs (the numbers stay
# the run's, up to the last bits between modes or device counts) and which of several models
# it trains (each has its own checkpoints). Any other flag (--lr, --batch-size, --epochs,
# --seed, --optimizer, --quick, ...) defines the run.
RESUME_MAY_CHANGE = frozenset({"out", "checkpoint_dir", "resume", "tensorboard", "mode",
                               "devices", "coordinator", "num_processes", "process_id",
                               "data_dir", "source", "only"})


# Flags whose value does not take a run away from its reference: the references hold for
# every seed, have their own quick and per-dataset values, and the flags a resume may
# change do not change the numbers.
JUDGED_UNDER_ANY = RESUME_MAY_CHANGE | {"seed", "quick", "dataset"}


def changed_flags(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The flags, as typed (``--lr 1e-05``), that differ from their defaults and make the
    references not apply (all but :data:`JUDGED_UNDER_ANY`)."""
    changed = []
    for action in p._actions:
        dest = action.dest
        if (action.default is argparse.SUPPRESS or dest in JUDGED_UNDER_ANY
                or getattr(args, dest, action.default) == action.default):
            continue
        value = getattr(args, dest)
        flag = action.option_strings[-1] if action.option_strings else dest
        changed.append(flag if isinstance(value, bool) else f"{flag} {_flag_value(value)}")
    return changed


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that define a run, as JSON values (as saved and read back: tuples are lists,
    anything else not JSON its type's name, which stays the same from process to process):
    all but :data:`RESUME_MAY_CHANGE` and what :func:`run` adds to ``args``."""
    own = {"argv", "mesh", "tensorboard_logger"}
    settings = {k: jsonable(v) for k, v in sorted(vars(args).items())
                if k not in RESUME_MAY_CHANGE and k not in own}
    return json.loads(json.dumps(settings, default=lambda v: f"<{type(v).__name__}>"))


def _save_history(directory: Path, history: engine.History, complete: bool,
                  settings: dict[str, Any]) -> None:
    """The loss curve, epoch logs and the run's flags so far, beside the checkpoints
    (host-side numpy)."""
    logs = json.dumps(jsonable([{k: v for k, v in e.items()} for e in history.epochs]))
    np.savez(_history_path(directory), **{f"step_{k}": v for k, v in history.steps.items()},
             epochs=np.array(logs), complete=np.array(complete),
             settings=np.array(json.dumps(settings)))


def _check_settings(directory: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume the run saved in ``directory`` under other flags than it started
    with (a run saved before the flags were recorded is not checked)."""
    path = _history_path(directory)
    if not path.is_file():
        return
    with _history_file(path) as f:
        if "settings" not in f.files:
            return
        saved = json.loads(str(f["settings"]))
    saved, settings = dict(saved), dict(settings)
    was, now = saved.pop("experiment", None), settings.pop("experiment", None)
    if was is not None and was != now:
        raise UsageError(f"argument --resume: {str(directory)!r} holds a run of {was}, not "
                         f"{now}: resume it with python -m experiments.{was}, or start a new "
                         "run in another --checkpoint-dir")
    changed = [k for k in sorted(set(saved) | set(settings)) if saved.get(k) != settings.get(k)]
    if changed:
        flags = ", ".join(f"--{k.replace('_', '-')} {_flag_value(saved.get(k))} (now "
                          f"{_flag_value(settings.get(k))})" for k in changed)
        raise UsageError(f"argument --resume: the run in {str(directory)!r} was started with "
                         f"{flags}; resume it with its own flags, or start a new run in "
                         "another --checkpoint-dir")


def _history_file(path: Path):
    """``np.load`` of a run's history.npz, a damaged one refused in one line."""
    try:
        return np.load(path)
    except (OSError, ValueError, EOFError) as e:
        raise UsageError(f"argument --resume: {str(path)!r} is damaged ({e}); start a new run "
                         "in another --checkpoint-dir") from None


def _flag_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    if isinstance(value, bool):
        return "given" if value else "not given"
    if isinstance(value, float):
        return f"{value:g}"
    return "not given" if value is None else str(value)


def _load_history(directory: Path, step: int, per_epoch: int) -> tuple[engine.History, bool]:
    """The history saved with the checkpoints, cut at ``step``; (History, run complete)."""
    path = _history_path(directory)
    if not path.is_file():
        return engine.History(), False
    with _history_file(path) as f:
        steps = {k[5:]: f[k] for k in f.files if k.startswith("step_")}
        epochs, complete = json.loads(str(f["epochs"])), bool(f["complete"])
    if steps and len(steps["loss"]) < step:  # saved by a run that crashed: no curve before
        return engine.History(), False
    return engine.History({k: v[:step] for k, v in steps.items()},
                          epochs[:step // per_epoch]), complete and len(steps.get("loss", ())) == step


def _joined(before: engine.History, after: engine.History) -> engine.History:
    if not before.steps:
        return after
    steps = {k: np.concatenate([before.steps[k], after.steps[k]]) if after.steps else before.steps[k]
             for k in before.steps}
    return engine.History(steps, before.epochs + after.epochs, after.stopped_early)


def _resume_command(args: argparse.Namespace) -> str:
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    if "--resume" not in argv:
        argv.append("--resume")
    return shlex.join([os.path.basename(sys.executable), "-m", f"experiments.{args.experiment}",
                       *argv])


def train(args: argparse.Namespace, step: engine.Step, state: engine.TrainState, data, *,
          epochs: int, batch_size: int | None = None, key=None, name: str | None = None,
          log_every: int = 0, on_log: Callable | None = None, on_epoch: Callable | None = None,
          learning_rate: float | Callable[[int], Any] | None = None,
          examples_per_call: int = EXAMPLES_PER_CALL, log_to_tensorboard: bool = True,
          save_every_epoch: bool = False, **fit_kwargs: Any):
    """``fit(step, state, data, ...)`` with the command line's options; (state, history).

    Runs in ``args.mode``, logs to TensorBoard with ``--tensorboard`` (unless
    ``log_to_tensorboard`` is False: hooks that log themselves), shows a progress bar
    on long runs, keeps each compiled call to about ``examples_per_call`` examples (Ctrl-C
    and the bar stay responsive). With ``--checkpoint-dir DIR`` it saves the state to ``DIR``
    (``DIR/<name>`` for an experiment that trains several models) at the end, on Ctrl-C and
    after an epoch when :data:`SAVE_SECONDS` have passed since the last save (after every
    epoch with ``save_every_epoch``: an experiment that restores its best one; a full-batch
    run, whose "epochs" are single steps, only at the end and on Ctrl-C); with ``--resume``
    it first restores the newest checkpoint there and runs what is left of the ``epochs``
    (a finished run is not trained again), the saved loss curve and epoch logs in front of
    the new ones. Raises ``UsageError`` for a batch larger than the data or one that does
    not split over the devices, :class:`~jaxbasics.train.Interrupted` (with ``resume`` set:
    the command that resumes, or None) and :class:`~jaxbasics.train.NonFiniteLoss` (its
    learning_rate filled in from ``learning_rate`` when the optimizer hides it): :func:`run`
    turns them into one line and an exit code.
    """
    n = None if batch_size is None else len(jax.tree.leaves(data)[0])
    if batch_size is not None and batch_size > n:
        raise UsageError(f"argument --batch-size: {batch_size} is more than the {n} "
                         "training examples")
    per_epoch = 1 if batch_size is None else n // batch_size
    mesh = fit_kwargs.get("mesh")
    if batch_size is not None and mesh is not None and batch_size % mesh.size:
        raise UsageError(f"argument --batch-size: {batch_size} does not split evenly over "
                         f"--devices {mesh.size}; use a multiple of {mesh.size}")
    ckpt, before = None, engine.History()
    directory = getattr(args, "checkpoint_dir", None)
    if getattr(args, "resume", False) and directory is None:
        raise UsageError("argument --resume: needs --checkpoint-dir DIR (where the run saved)")
    if directory is not None:
        from jaxbasics.checkpoint import Checkpoints
        if args.resume and not (Path(directory).is_dir() and any(Path(directory).iterdir())):
            raise UsageError(f"argument --resume: no checkpoints in {str(directory)!r}")
        # A model that had not started when the run stopped has no directory yet: it starts.
        directory = Path(directory) / name if name else Path(directory)
        ckpt = Checkpoints(directory, every=1, keep=3)
        latest = ckpt.latest_step()
        if latest is not None and not args.resume:
            raise UsageError(f"argument --checkpoint-dir: {str(directory)!r} holds a run "
                             f"(step {latest}): add --resume to continue it, or use another "
                             "directory")
        if args.resume and latest is not None:
            _check_settings(directory, run_settings(args))
            state = ckpt.restore(state, latest)
            before, complete = _load_history(directory, latest, per_epoch)
            print(f"resumed {args.experiment}{' ' + name if name else ''} from step {latest} "
                  f"(epoch {latest // per_epoch}, batch {latest % per_epoch}) in {directory}",
                  flush=True)
            epochs -= latest // per_epoch
            if complete or epochs <= 0:
                ckpt.close()
                return state, before
        else:  # a new run: its flags are recorded before its first checkpoint
            directory.mkdir(parents=True, exist_ok=True)
            _save_history(directory, before, False, run_settings(args))

    def save(state: engine.TrainState, history: engine.History, complete: bool) -> None:
        if ckpt.latest_step() != int(state.step):
            ckpt.save(state)
        _save_history(directory, _joined(before, history), complete, run_settings(args))

    last_save = time.perf_counter()

    def saver(epoch: int, state: engine.TrainState) -> None:
        nonlocal last_save
        if save_every_epoch or time.perf_counter() - last_save >= SAVE_SECONDS:
            ckpt.save(state)
            last_save = time.perf_counter()

    hooks = (tensorboard(args, on_log=on_log, on_epoch=on_epoch, learning_rate=learning_rate)
             if log_to_tensorboard else {"on_log": on_log, "on_epoch": on_epoch})
    if ckpt is not None and batch_size is not None:  # full batch: saved at the end or on Ctrl-C
        from jaxbasics.callbacks import chain
        hooks["on_epoch"] = chain(*[f for f in (hooks["on_epoch"], saver) if f is not None])
    spc = None if batch_size is None else steps_per_call(n, batch_size, examples_per_call)
    total = epochs * (n or 1)
    try:
        state, history = engine.fit(
            step, state, data, epochs=epochs, batch_size=batch_size, key=key, mode=args.mode,
            log_every=log_every, steps_per_call=spc, progress=total >= PROGRESS_EXAMPLES,
            **hooks, **fit_kwargs)
        if ckpt is not None:
            save(state, history, complete=True)
    except engine.Interrupted as e:
        e.resume, e.model = None, name
        if ckpt is not None:
            save(e.state, e.history, complete=False)
            e.resume = _resume_command(args)
        raise
    except engine.NonFiniteLoss as e:
        if e.learning_rate is None and isinstance(learning_rate, (int, float)):
            e.learning_rate = float(learning_rate)
        raise
    finally:
        if ckpt is not None:
            ckpt.close()
    return state, _joined(before, history)


def run(name: str, doc: str | None, body: Callable[[argparse.Namespace], Outcome],
        argv: Sequence[str] | None = None, *, default_mode: str = "fused",
        add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> dict:
    """Parse ``argv``, run ``body(args)``, report, write ``metrics.json``; return the metrics.

    ``args.out`` is the output directory (created); ``body`` writes its figures there.
    """
    p = parser(doc, default_mode=default_mode, prog=f"{name}.py")
    if add_arguments is not None:
        add_arguments(p)
    args = p.parse_args(argv)
    try:
        parallel_setup(args)  # before any JAX computation
    except ValueError as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    if getattr(args, "resume", False) and args.checkpoint_dir is None:
        p.error("argument --resume: needs --checkpoint-dir DIR (where the run saved)")
    if argv is None:
        command_line_settings()
        # The imports are done: keep their objects out of the collector's full passes
        # (tracing allocates enough to trigger several; in `lenet` they took 0.19 s of
        # the process, 0.08 s with this).
        gc.freeze()
    if jax.process_index() > 0:  # only process 0 prints and writes; the others run alike
        return _quiet_run(name, doc, body, argv, args, p)
    args.out = Path(args.out) if args.out is not None else Path("runs") / name
    args.out.mkdir(parents=True, exist_ok=True)
    args.experiment, args.tensorboard_logger = name, None
    args.argv = list(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    outcome = None
    try:
        _started()
        outcome = body(args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        if argv is not None:  # called from Python: let the caller see the exception
            raise
        p.exit(2, f"{p.prog}: error: {e}\n")  # the command line: one line, like argparse's
    except engine.NonFiniteLoss as e:
        if argv is not None:
            raise
        rate = "" if e.learning_rate is None else f" with learning rate {e.learning_rate:g}"
        p.exit(1, f"{p.prog}: error: training diverged: loss {e.loss} at step {e.step}{rate}; "
                  "try a smaller --lr\n")
    except KeyboardInterrupt as e:
        if argv is not None:
            raise
        at = (f" at step {int(e.state.step)}" if isinstance(e, engine.Interrupted) else "")
        if getattr(e, "model", None):
            at = f" ({e.model}){at}"
        resume = getattr(e, "resume", None)
        if resume is None and getattr(args, "checkpoint_dir", None) is not None:
            resume = _resume_command(args)  # outside training: its checkpoints are there
        hint = (f"; resume with: {resume}" if resume else
                "; nothing saved (add --checkpoint-dir DIR to be able to resume)")
        p.exit(130, f"\n{p.prog}: interrupted{at}{hint}\n")
    except RuntimeError as e:
        _lost_process(e, argv, p)
    finally:
        _close_tensorboard(args, outcome)
    seconds = time.perf_counter() - start
    changed = changed_flags(p, args)
    judged = not changed if outcome.judged is None else bool(outcome.judged)
    metrics = jsonable({
        "experiment": name, "mode": args.mode, "backend": jax.default_backend(),
        "seconds": round(seconds, 3), "data_source": outcome.data_source,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "result": outcome.result, "reference": outcome.reference,
        "ok": bool(outcome.ok) or not judged, "judged": judged,
        "meets_reference": bool(outcome.ok), "figures": [str(f) for f in outcome.figures],
    })
    result, reference = flatten(metrics["result"]), flatten(metrics["reference"])
    keys = list(reference) + [k for k in result if k not in reference]
    rows = [[k, fmt(result.get(k, "")), fmt(reference.get(k, ""))] for k in keys]
    print(f"\n== {name} ({args.mode}, {metrics['backend']}, {seconds:.2f} s, "
          f"data: {outcome.data_source})")
    print(table(rows, ["quantity", "result", "reference"]))
    if judged:
        verdict = "ok" if outcome.ok else "NOT OK"
    else:
        verdict = (f"not judged ({', '.join(changed) or 'these settings'}: the references are "
                   f"for the seed's settings; the result "
                   f"{'meets' if outcome.ok else 'does not meet'} them)")
    print(f"{verdict}: {name}; wrote {args.out / 'metrics.json'}"
          + (f" and {len(outcome.figures)} figure(s)" if outcome.figures else ""))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if argv is None and not metrics["ok"]:
        sys.exit(1)  # the command line: below the reference is a failure
    return metrics


def _started() -> None:
    """Ctrl-C back to Python's default handler, and a Ctrl-C noted while the command line
    was starting (see ``experiments/__init__.py``) raised now."""
    import experiments
    if signal.getsignal(signal.SIGINT) is experiments._note_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if experiments.interrupted_while_starting:
        experiments.interrupted_while_starting = False
        raise KeyboardInterrupt


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
        except (ValueError, TypeError, FileNotFoundError) as e:
            if argv is not None:
                raise
            p.exit(2, f"{p.prog}: error: {e}\n")  # as process 0 says it: one line
        except RuntimeError as e:
            _lost_process(e, argv, p)
    return {"experiment": name, "process": jax.process_index(), "ok": bool(outcome.ok)}


def torch_original(name: str) -> Callable[[int], float]:
    """The PyTorch original ``experiments._torch_originals.<name>``, imported when called."""
    def run(units: int) -> float:
        import importlib
        return getattr(importlib.import_module("experiments._torch_originals"), name)(units)
    return run
