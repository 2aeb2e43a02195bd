"""Giving back to the operating system the memory XLA's compiler has freed.

Compiling a program allocates XLA's and LLVM's working memory on the compiler's threads.
glibc's ``malloc`` keeps what those threads free in its arenas for reuse instead of
returning it, so after a large compilation a process stays that much bigger for the rest
of its life: 62 MiB after the MNIST MLP's fused epoch compiled, 52 MiB of which
``malloc_trim(0)`` gave back (measured on a 2-core Zen 4, jax 0.10.2, glibc 2.36). With it,
the 60,000-image MLP epoch peaked at 481-485 MiB instead of 496-505 (PyTorch's: 491;
``python -m experiments._memory``).

:func:`release_after_compiles` registers a ``jax.monitoring`` listener that calls glibc's
``malloc_trim(0)`` after every backend compilation. The command line turns it on
(``experiments._cli``); importing ``jaxbasics`` does not, since it is process-wide. Where
the C library has no ``malloc_trim`` (macOS, musl) it does nothing and returns False.
Measured with an empty compilation cache: ``lenet`` peaked at 360-367 MiB instead of
435-436, the quick ``classic_cnns`` at 653-685 MiB instead of 930-942; the trims took 17
ms of ``lenet``'s 4.2 s (4 compilations) and 0.25 s of ``classic_cnns``' 23 s (21), under
1 ms after a small program and about 20 ms after a large one.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Callable

import jax

try:  # the event JAX records after each backend compilation (jax/_src/dispatch.py)
    from jax._src.dispatch import BACKEND_COMPILE_EVENT as COMPILE_EVENT
except ImportError:  # pragma: no cover  (its value in jax 0.4.x - 0.10.x)
    COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"

_registered: list[Callable[..., None]] = []


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def release() -> bool:
    """Return the memory ``malloc`` holds free to the operating system now
    (``malloc_trim(0)``); False where that is not possible (no glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def release_after_compiles() -> bool:
    """Call :func:`release` after every XLA compilation in this process from now on.

    Idempotent (one listener however often it is called). Returns True if it is active,
    False where the C library cannot give memory back (then nothing is registered).
    """
    if _malloc_trim() is None:
        return False
    if not _registered:
        def on_compile(event: str, seconds: float, **_: object) -> None:
            if event == COMPILE_EVENT:
                release()
        jax.monitoring.register_event_duration_secs_listener(on_compile)
        _registered.append(on_compile)
    return True
