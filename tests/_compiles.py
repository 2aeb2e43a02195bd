"""Count XLA backend compilations, to assert that something compiles nothing.

JAX reports each backend compilation (``jit`` programs and the one-primitive programs of
eager dispatch alike) as a duration event named ``BACKEND_COMPILE_EVENT``
(jax/_src/dispatch.py, recorded around ``compile_or_get_cached`` in
jax/_src/interpreters/pxla.py). One listener is registered at import and appends the
compiled function's name to a list; :func:`count_compiles` reads the list's growth::

    with count_compiles() as compiled:
        f(x)
    assert compiled.count == 0, compiled.names

A persistent-cache hit still goes through that path, so it counts too: the counter measures
"asked XLA for an executable", which is what a cache miss in JAX's own caches costs.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import jax

try:  # the constant, where this jax has it; else its value in jax 0.4.x - 0.10.x
    from jax._src.dispatch import BACKEND_COMPILE_EVENT
except ImportError:  # pragma: no cover
    BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"

_lock = threading.Lock()
_compiled: list[str] = []


def _listener(event: str, duration: float, **kwargs) -> None:
    del duration
    if event == BACKEND_COMPILE_EVENT:
        with _lock:
            _compiled.append(str(kwargs.get("fun_name", "?")))


jax.monitoring.register_event_duration_secs_listener(_listener)


class Compiles:
    """What :func:`count_compiles` saw: ``count`` and the compiled functions' ``names``
    (final once the ``with`` block has exited; live inside it)."""

    def __init__(self) -> None:
        with _lock:
            self._start = len(_compiled)
        self._end: int | None = None

    @property
    def names(self) -> list[str]:
        with _lock:
            return _compiled[self._start:self._end]

    @property
    def count(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Compiles(count={self.count}, names={self.names})"


@contextlib.contextmanager
def count_compiles() -> Iterator[Compiles]:
    """Count the backend compilations inside the ``with`` block (all threads)."""
    seen = Compiles()
    try:
        yield seen
    finally:
        with _lock:
            seen._end = len(_compiled)
