"""Checkpoints through Orbax: any pytree of arrays, and whole training runs.

* :func:`save` / :func:`restore`: one pytree (a model's parameters, say) to one checkpoint
  directory, e.g. ``save("ckpt/model", params)``.
* :class:`Checkpoints`: a directory of a run's :class:`~jaxbasics.train.TrainState`s, one
  per saved step; usable as ``fit(on_epoch=...)`` to save every ``every`` epochs, keeping
  the last ``keep``. ``restore(template)`` loads the newest onto a fresh state.

Orbax writes each checkpoint to a temporary directory and renames it when complete, so a
crash mid-save leaves the previous checkpoints intact. Ctrl-C during a
:meth:`Checkpoints.save` is held until the checkpoint is complete, then raised: an
interrupted save left Orbax's writer threads filling a temporary directory that the next
save of the same step (the one made on Ctrl-C) removed under them. Restoring needs a *template* of the
same structure (a freshly initialised state); every path, shape and dtype is checked
against the stored metadata first and the first mismatch is named. The restored arrays
take the template's placement: a template sharded over a device mesh restores sharded
(whatever mesh saved it), a single-device template restores on one device.

Typed PRNG keys (``jax.random.key``) are stored as their raw key data and re-wrapped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxbasics._checks import positive


@contextlib.contextmanager
def _ctrl_c_held():
    """Hold SIGINT (Ctrl-C) until the block ends, then raise KeyboardInterrupt; only in
    the main thread under Python's own SIGINT handler (elsewhere a no-op)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


class CheckpointMismatch(ValueError):
    """The checkpoint's structure, shapes or dtypes do not match the template."""


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _storable(tree: Any) -> Any:
    """``tree`` with typed PRNG keys replaced by their key data (uint32)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _name(path: tuple) -> str:
    """A pytree path as 'a.b.0': dict keys, attribute names (NamedTuple fields) and indices
    alike, so a template's NamedTuples match the dicts Orbax's metadata holds."""
    parts = []
    for k in path:
        parts.append(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))))
    return ".".join(parts)


def _flat(tree: Any) -> dict[str, Any]:
    return {_name(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _check(stored_metadata: Any, template: Any, where: str) -> None:
    stored, expected = _flat(stored_metadata), _flat(template)
    for name, like in expected.items():
        if name not in stored:
            raise CheckpointMismatch(f"checkpoint {where} has no entry {name}; the template "
                                     f"expects it (entries: {sorted(stored)[:8]}...)")
        got = stored[name]
        if tuple(got.shape) != tuple(like.shape):
            raise CheckpointMismatch(f"checkpoint entry {name} in {where} has shape "
                                     f"{tuple(got.shape)}; the template expects {tuple(like.shape)}")
        if jnp.dtype(got.dtype) != jnp.dtype(like.dtype):
            raise CheckpointMismatch(f"checkpoint entry {name} in {where} has dtype "
                                     f"{got.dtype}; the template expects {like.dtype}")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise CheckpointMismatch(f"checkpoint {where} has entry {extra[0]} that the template "
                                 f"does not have ({len(extra)} unexpected in all)")


def _rewrap(restored: Any, template: Any) -> Any:
    """Typed keys re-wrapped, and leaves whose template lives on one device returned as
    ordinary (uncommitted) device arrays, like a fresh state's: Orbax pins restored arrays
    to their device, and pinned arguments would recompile every program once more."""
    def leaf(got, like):
        sharding = getattr(like, "sharding", None)
        if sharding is None or len(sharding.device_set) == 1:
            got = jax.device_put(np.asarray(got))  # uncommitted, and no program (jnp.asarray compiles one)
        if _is_key(like):
            return jax.random.wrap_key_data(got, impl=jax.random.key_impl(like))
        return got
    return jax.tree.map(leaf, restored, template)


def _abstract(template: Any) -> Any:
    """Shape, dtype and sharding of each leaf: where the restored arrays go."""
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, _storable(template))


def save(path: str | os.PathLike, tree: Any) -> Path:
    """Write the pytree ``tree`` to the checkpoint directory ``path``, replacing one there
    only once the new one is complete (a failed save leaves the old one in place).

    Returns the absolute path. Every process of a multi-process run calls it (each writes
    its shards)."""
    path = Path(path).absolute()
    fresh = path.with_name(path.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(fresh, _storable(tree))
    if path.exists():
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(fresh, path)
        shutil.rmtree(old)
    else:
        os.replace(fresh, path)
    return path


def restore(path: str | os.PathLike, template: Any) -> Any:
    """Read the checkpoint directory ``path`` into a pytree shaped and placed like
    ``template`` (its values are ignored).

    Raises :class:`CheckpointMismatch` naming the entry that is missing, unexpected, or of
    another shape or dtype; ``FileNotFoundError`` if ``path`` does not exist.
    """
    path = Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint path {str(path)!r} does not exist")
    with ocp.StandardCheckpointer() as checkpointer:
        _check(checkpointer.metadata(path).item_metadata, _storable(template), str(path))
        return _rewrap(checkpointer.restore(path, _abstract(template)), template)


class Checkpoints:
    """A run's checkpoints: ``directory/<step>/``, the newest ``keep`` of them.

    directory: created if missing; a directory of an earlier run is read and continued.
    every: used as ``fit(on_epoch=checkpoints)``, save after every ``every``-th epoch.
    keep: how many to keep (older ones are deleted after a newer one is complete).
    """

    def __init__(self, directory: str | os.PathLike, *, every: int = 1, keep: int = 3):
        self.every = positive("every", every, integer=True)
        self.keep = positive("keep", keep, integer=True)
        self.directory = Path(directory).absolute()
        # The handler named up front: a manager that has not saved yet (a new process
        # resuming a run) can then read the stored metadata.
        self._manager = ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False),
            item_handlers=ocp.StandardCheckpointHandler())

    def __call__(self, epoch: int, state: Any) -> dict[str, Any]:
        """The ``on_epoch`` hook: save after epochs every-1, 2*every-1, ... (0-based)."""
        if (epoch + 1) % self.every == 0:
            self.save(state)
            return {"checkpoint": int(state.step)}
        return {}

    @property
    def steps(self) -> list[int]:
        """The saved steps, oldest first."""
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        steps = self.steps
        return steps[-1] if steps else None

    def save(self, state: Any) -> int:
        """Save ``state`` (a TrainState) under its step count; returns that step. A step
        already saved is left as it is (a run's state at a step is the one saved there).
        Ctrl-C meanwhile is raised once the checkpoint is complete."""
        step = int(state.step)
        if step in self._manager.all_steps():
            return step
        with _ctrl_c_held():
            self._manager.save(step, args=ocp.args.StandardSave(_storable(state)), force=True)
            self._manager.wait_until_finished()
        return step

    def restore(self, template: Any, step: int | None = None) -> Any:
        """The state saved at ``step`` (default: the newest), shaped and placed like
        ``template`` (a fresh ``init_state``). FileNotFoundError if there is none."""
        step = self.latest_step() if step is None else step
        if step is None or step not in self.steps:
            raise FileNotFoundError(f"no checkpoint {'' if step is None else f'at step {step} '}"
                                    f"in {self.directory} (saved steps: {self.steps})")
        _check(self._manager.item_metadata(step), _storable(template),
               str(self.directory / str(step)))
        got = self._manager.restore(step, args=ocp.args.StandardRestore(_abstract(template)))
        return _rewrap(type(template)(*got) if isinstance(template, tuple) else got, template)

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> "Checkpoints":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
