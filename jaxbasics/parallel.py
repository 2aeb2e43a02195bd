"""Data parallel over a device mesh, in one process or several (``jax.distributed``).

The SPMD way of JAX's ``examples/spmd_mnist_classifier_fromscratch.py``: a 1-D mesh whose
axis ``"batch"`` spans the devices, the train state replicated on every device, each batch
split by example, and the compiler inserting the collectives (the mean of the gradients is
an all-reduce). :func:`jaxbasics.train.fit` takes ``mesh=`` (a :class:`~jax.sharding.Mesh`
from :func:`make_mesh`, or a device count) and does the placing itself; the helpers here
are what it uses, for a hand-written loop too.

Several processes (one per host, or one per GPU): every process calls
:func:`distributed_init` first (it wraps ``jax.distributed.initialize``), then builds the
same mesh over all the processes' devices; the data each process gives is the *global*
data (every process loads the same arrays) and :func:`shard_data` keeps only this process's
rows (``jax.make_array_from_process_local_data``). A process that reads only its own files
can build the global array itself with ``make_array_from_process_local_data`` and pass it.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "batch"


def make_mesh(devices: int | None = None) -> Mesh:
    """A 1-D mesh with axis ``"batch"`` over the first ``devices`` devices (all: None).

    With several processes it must span every process's devices (``jax.device_count()``).
    On the CPU, more than one device needs ``jax.config.update("jax_num_cpu_devices", n)``
    before JAX starts (the command line's ``--devices`` does it).
    """
    available = jax.devices()
    n = len(available) if devices is None else int(devices)
    if n < 1 or n > len(available):
        raise ValueError(f"devices must be between 1 and {len(available)} (the devices JAX "
                         f"sees: {available[0].platform} x {len(available)}); got {devices}. "
                         "On the CPU, set jax_num_cpu_devices before JAX starts "
                         "(--devices N on the command line)")
    if jax.process_count() > 1 and n != len(available):
        raise ValueError(f"with {jax.process_count()} processes the mesh must span all "
                         f"{len(available)} devices; got devices={devices}")
    return jax.make_mesh((n,), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                         devices=available[:n])


def active(mesh: Mesh | int | None) -> Mesh | None:
    """``mesh`` as a mesh to shard over, or None for the plain one-device path (None, 1, or
    a one-device mesh in one process)."""
    if mesh is None:
        return None
    if isinstance(mesh, (int, np.integer)) and not isinstance(mesh, bool):
        mesh = make_mesh(int(mesh))
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh or a device count; got "
                        f"{type(mesh).__name__}")
    if mesh.axis_names != (AXIS,):
        raise ValueError(f"mesh must have the single axis {AXIS!r} (make_mesh builds one); "
                         f"got axes {mesh.axis_names}")
    return None if mesh.size == 1 and jax.process_count() == 1 else mesh


def mesh_of(tree: Any) -> Mesh | None:
    """The mesh the arrays of ``tree`` are placed on (a state a mesh ``fit`` returned), or
    None for arrays on one device."""
    for leaf in jax.tree.leaves(tree):
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, NamedSharding) and sharding.mesh.axis_names == (AXIS,):
            return sharding.mesh
    return None


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (parameters, optimizer state, keys)."""
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The leading (example) axis split over the devices."""
    return NamedSharding(mesh, P(AXIS))


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _put(x: Any, sharding: NamedSharding) -> Any:
    if isinstance(x, jax.Array) and x.sharding == sharding:
        return x
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    if _is_key(x):  # typed keys travel as their key data
        return jax.random.wrap_key_data(_put(jax.random.key_data(x), sharding),
                                        impl=jax.random.key_impl(x))
    host = np.asarray(x)  # the same value in every process
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every array of ``tree`` replicated on ``mesh`` (every process gives the same values)."""
    return jax.tree.map(lambda x: _put(x, replicated(mesh)), tree)


def process_rows(rows: int, mesh: Mesh) -> slice:
    """The rows of a ``rows``-long batch-sharded array that this process's devices hold."""
    spans = batch_sharded(mesh).addressable_devices_indices_map((rows,)).values()
    starts = [s[0].start or 0 for s in spans]
    stops = [rows if s[0].stop is None else s[0].stop for s in spans]
    return slice(min(starts), max(stops))


def shard_data(data: Any, mesh: Mesh) -> tuple[Any, int]:
    """The global ``data`` (a pytree of arrays sharing their first axis) split by example
    over ``mesh``: (placed, n). Each device holds ``ceil(n / devices)`` rows; the last rows
    are zero padding that the engine never indexes (n is the true example count). Arrays
    already sharded this way are taken as they are.
    """
    leaves, treedef = jax.tree.flatten(data)
    if not leaves:
        return data, 0
    if all(isinstance(a, jax.Array) and a.sharding == batch_sharded(mesh) for a in leaves):
        return data, leaves[0].shape[0]
    n = leaves[0].shape[0]
    size = -(-n // mesh.size) * mesh.size
    mine = process_rows(size, mesh)
    placed = []
    for a in leaves:
        host = np.asarray(a)
        if size != n:
            host = np.concatenate([host, np.zeros((size - n, *host.shape[1:]), host.dtype)])
        placed.append(jax.make_array_from_process_local_data(
            batch_sharded(mesh), host[mine], (size, *host.shape[1:])))
    return jax.tree.unflatten(treedef, placed), n


def gather(data: Any, rows: jax.Array, mesh: Mesh) -> Any:
    """Rows ``rows`` (a replicated (b,) index vector into the global data) of the
    batch-sharded ``data``, as a batch sharded by example: exactly ``take(data, rows)``.

    Each device takes the rows it owns (zeros elsewhere) and a reduce-scatter sums the
    devices' contributions, one of which is non-zero per row, so the values are exact and
    each device ends with its slice: one collective moving one batch per step. (Left to
    itself, XLA compiles ``jnp.take`` of sharded data as the same masked gather followed
    by an all-reduce of the whole batch and an all-gather of the indices: twice the bytes.)
    """
    def local(shard, rows):
        m = shard.shape[0]
        at = rows - jax.lax.axis_index(AXIS) * m
        own = (at >= 0) & (at < m)
        got = jnp.take(shard, jnp.clip(at, 0, m - 1), axis=0)
        got = jnp.where(own.reshape(-1, *[1] * (shard.ndim - 1)), got, jnp.zeros((), got.dtype))
        return jax.lax.psum_scatter(got, AXIS, scatter_dimension=0, tiled=True)

    def one(a):
        kind = a.dtype
        a = a.astype(jnp.uint8) if kind == jnp.bool_ else a
        out = jax.shard_map(local, mesh=mesh, in_specs=(P(AXIS), P()), out_specs=P(AXIS))(a, rows)
        out = jax.lax.with_sharding_constraint(out, batch_sharded(mesh))
        return out.astype(kind)
    return jax.tree.map(one, data)


def check_batch(name: str, batch_size: int, mesh: Mesh) -> None:
    """A clear error when ``batch_size`` does not split evenly over the devices."""
    if batch_size % mesh.size:
        raise ValueError(f"{name} ({batch_size}) must be a multiple of the number of devices "
                         f"({mesh.size}) to split each batch evenly; use e.g. "
                         f"{max(mesh.size, batch_size // mesh.size * mesh.size)}")


class LostProcess(RuntimeError):
    """Another process of a multi-process run stopped (killed, crashed, unreachable): a
    collective failed (gloo reports a closed connection at once) and this process cannot go
    on. Restart every process to resume from the last checkpoint. If the process is not in
    a collective when the other dies, JAX's coordination service ends it instead within
    the heartbeat timeout (see :func:`distributed_init`)."""


def lost_process(error: Exception) -> LostProcess | None:
    """``error`` (a failed computation) as a one-line :class:`LostProcess` when this is one
    of several processes, else None."""
    if jax.process_count() == 1 or not isinstance(error, jax.errors.JaxRuntimeError):
        return None
    cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return LostProcess(f"process {jax.process_index()} of {jax.process_count()}: another "
                       f"process of this run stopped ({cause[:160]}); restart all "
                       f"{jax.process_count()} processes to resume from the last checkpoint")


def distributed_init(coordinator: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None, *, heartbeat_timeout: int | None = None,
                     initialization_timeout: int = 120) -> bool:
    """``jax.distributed.initialize`` when this is one of several processes; returns whether
    it was. Call it before any JAX computation.

    Arguments left None are read from ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process
    0), ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` and ``JAXBASICS_HEARTBEAT_TIMEOUT``; with
    none of them set (or one process) nothing happens. A process id outside
    0..num_processes-1 (0 alone when no number of processes is given) is a ValueError.
    On the CPU the collectives go
    through gloo. heartbeat_timeout: seconds after which a silent process counts as dead
    and the others stop (JAX's default is 100 s; here 10 s).
    """
    env = os.environ.get
    coordinator = coordinator or env("JAX_COORDINATOR_ADDRESS")
    num_processes = num_processes or int(env("JAX_NUM_PROCESSES", "0")) or None
    if process_id is None and env("JAX_PROCESS_ID"):
        process_id = int(env("JAX_PROCESS_ID"))
    if process_id is not None and not 0 <= process_id < (num_processes or 1):
        raise ValueError(f"process id must be in 0..{(num_processes or 1) - 1}; got {process_id}"
                         + ("" if num_processes else " (no number of processes was given: one)"))
    if not num_processes or num_processes == 1:
        return False
    if coordinator is None or process_id is None:
        raise ValueError(f"{num_processes} processes need a coordinator address (host:port of "
                         "process 0) and this process's id (0 .. num_processes-1)")
    heartbeat = heartbeat_timeout or int(env("JAXBASICS_HEARTBEAT_TIMEOUT", "10"))
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=initialization_timeout,
                               heartbeat_timeout_seconds=heartbeat)
    return True
