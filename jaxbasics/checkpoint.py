"""Checkpoints: any pytree of arrays (params, model state, optimizer state) to one file.

The file is a NumPy ``.npz`` archive with one entry per leaf, named by the leaf's pytree
path (``jax.tree_util.keystr``), so a checkpoint can be read without this package. Writing
is atomic: the archive goes to a temporary file in the same directory, is flushed to disk,
and then ``os.replace``-d over the target, so a crash mid-save leaves either the old
checkpoint or the new one, never a truncated file. Restoring needs a *template* pytree of
the same structure (e.g. a freshly initialised model's state); every path, shape and dtype
is checked and the first mismatch is named in the error.

Typed PRNG keys (``jax.random.key``) are stored as their raw key data and re-wrapped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_KEY_SUFFIX = "#prng_key"


class CheckpointMismatch(ValueError):
    """The checkpoint's structure, shapes or dtypes do not match the template."""


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _flatten(tree: Any) -> dict[str, Any]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def save(path: str | os.PathLike, tree: Any) -> Path:
    """Write the pytree ``tree`` (arrays or scalars as leaves) to ``path`` atomically.

    path: the target file (``.npz`` is customary); its directory is created.
    Returns the path. Leaves are copied to host memory; dtypes are kept exactly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for name, leaf in _flatten(tree).items():
        if _is_key(leaf):
            arrays[name + _KEY_SUFFIX] = np.asarray(jax.random.key_data(leaf))
        else:
            arrays[name] = np.asarray(leaf)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def restore(path: str | os.PathLike, template: Any) -> Any:
    """Read ``path`` into a pytree with ``template``'s structure (its values are ignored).

    template: a pytree like the one saved (e.g. ``{"params": ..., "model_state": ...}`` of a
        freshly built model). Leaves come back as ``jax.Array`` with the saved values.
    Raises :class:`CheckpointMismatch` naming the entry that is missing, unexpected, or of
    another shape or dtype; ``FileNotFoundError`` if ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint path {str(path)!r} does not exist")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files}
    out, expected = [], set()
    for key_path, like in leaves:
        name = jax.tree_util.keystr(key_path)
        is_key = _is_key(like)
        entry = name + _KEY_SUFFIX if is_key else name
        expected.add(entry)
        if entry not in stored:
            raise CheckpointMismatch(f"checkpoint {path.name} has no entry {name}; the model "
                                     f"expects it (checkpoint entries: {sorted(stored)[:8]}...)")
        value = stored[entry]
        like_data = jax.random.key_data(like) if is_key else like
        like_shape, like_dtype = np.shape(like_data), np.asarray(like_data).dtype
        if value.shape != like_shape:
            raise CheckpointMismatch(f"checkpoint entry {name} has shape {value.shape}; the "
                                     f"model expects {like_shape}")
        if value.dtype != like_dtype:
            raise CheckpointMismatch(f"checkpoint entry {name} has dtype {value.dtype}; the "
                                     f"model expects {like_dtype}")
        if is_key:
            out.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(like)))
        else:
            out.append(jnp.asarray(value))
    extra = sorted(set(stored) - expected)
    if extra:
        raise CheckpointMismatch(f"checkpoint {path.name} has entry {extra[0]} that the model "
                                 f"does not have ({len(extra)} unexpected in all)")
    return jax.tree_util.tree_unflatten(treedef, out)


def save_train_state(path: str | os.PathLike, state: Any, *, with_optimizer: bool = True) -> Path:
    """Save a ``train.TrainState``: params, model_state, step and key, and the optimizer
    state if ``with_optimizer`` (needed to resume training exactly)."""
    tree = {"params": state.params, "model_state": state.model_state, "step": state.step,
            "key": state.key}
    if with_optimizer:
        tree["opt_state"] = state.opt_state
    return save(path, tree)


def restore_train_state(path: str | os.PathLike, template: Any, *,
                        with_optimizer: bool = True) -> Any:
    """The ``TrainState`` saved by :func:`save_train_state`, shaped like ``template``.

    Without the optimizer state, ``template.opt_state`` is kept (a fresh optimizer)."""
    tree = {"params": template.params, "model_state": template.model_state,
            "step": template.step, "key": template.key}
    if with_optimizer:
        tree["opt_state"] = template.opt_state
    got = restore(path, tree)
    return template._replace(params=got["params"], model_state=got["model_state"],
                             step=got["step"], key=got["key"],
                             opt_state=got.get("opt_state", template.opt_state))
