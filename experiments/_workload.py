"""The benchmark's protocol for experiments: what ``experiments.jit_vs_eager`` times."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable


@dataclasses.dataclass
class Workload:
    """A training loop to time in each mode.

    name: what it is, with the seed's sizes ("linear regression, 3000 full-batch epochs").
    run: ``run(mode, units) -> result`` trains for ``units`` epochs or steps in ``mode``
        from the same initial state every call (compiled functions are cached, so only the
        first call of a mode compiles) and returns a value that depends on the whole run.
    units, unit: the full size and its name ("epoch", "step").
    torch: ``torch(units) -> result``, the PyTorch original, or None.
    eager_units: time eager mode on this many units and scale up (eager JAX is slow).
    flops: floating-point operations of the matrix products in one unit (forward and
        backward, counted exactly), to compare the achieved rate with :func:`matmul_gflops`.
    traced: ``traced() -> (step, state, batch, steps)``: the training step, a state and a
        batch to trace it on, and the steps in one unit; ``experiments._floors`` times the
        step's matrix products alone (:func:`jaxbasics.bench.gemm_floor`) against it.
    """

    name: str
    run: Callable[[str, int], Any]
    units: int
    unit: str = "epoch"
    torch: Callable[[int], Any] | None = None
    eager_units: int | None = None
    flops: float | None = None
    traced: Callable[[], tuple[Any, Any, Any, int]] | None = None
