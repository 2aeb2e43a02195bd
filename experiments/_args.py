"""The command line's argparse types: each checks a flag's value when it is parsed and
says what it expected in one line (``argument --lr: expected a positive finite number; got
'0'``). No JAX here: the benchmarks' parent processes (``whole_process``, ``_memory``) use
them without starting it; the experiments reach them through ``experiments._cli``."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any, Callable


def _number(text: str, kind: type, what: str, ok: Callable[[Any], bool]):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``--lr``)."""
    return _number(text, float, "a positive finite number", lambda v: math.isfinite(v) and v > 0)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (momentum, penalties)."""
    return _number(text, float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--epochs``, ``--batch-size``)."""
    return _number(text, int, "a positive integer", lambda v: v > 0)


# More simulated CPU devices than any batch here splits over; XLA takes minutes to set up
# 100,000 of them.
MAX_DEVICES = 1024


def device_count(text: str) -> int:
    """argparse type: an integer in 1..MAX_DEVICES (``--devices``)."""
    return _number(text, int, f"an integer from 1 to {MAX_DEVICES}",
                   lambda v: 1 <= v <= MAX_DEVICES)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (``--process-id``)."""
    return _number(text, int, "a non-negative integer", lambda v: v >= 0)


def seed_int(text: str) -> int:
    """argparse type: an integer in [0, 2**32) (``--seed``)."""
    return _number(text, int, "a non-negative integer below 2**32", lambda v: 0 <= v < 2**32)


def output_dir(text: str) -> Path:
    """argparse type: a directory to write in (``--out``, ``--checkpoint-dir``,
    ``--tensorboard``), created later: its nearest existing ancestor must be a directory
    this process may write in."""
    path = Path(text)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {str(existing)!r}")
    return path


def existing_dir(text: str) -> Path:
    """argparse type: a directory that exists (``--data-dir``)."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return Path(text)


def output_file(text: str) -> Path:
    """argparse type: a file to write (``--json``), checked before any work: not a
    directory, writable if it exists, else its directory :func:`output_dir`'s."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"cannot write {text!r}")
        return path
    output_dir(str(path.parent))
    return path
