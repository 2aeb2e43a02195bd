"""The floors under the fused loops (experiments._floors): its variants run the engine's
programs, so an engine change that breaks them shows here, not in a timing run."""

import jax
import numpy as np

from experiments import _floors


def test_the_fused_program_floor_is_the_fit_it_times():
    variants = _floors.small_loop_variants()
    for name, run in variants.items():
        jax.block_until_ready(run())  # every floor runs
    state, metrics = variants["the engine's fused program"]()
    fitted = variants["fit(mode='fused')"]()
    # The same program as fit's fused run: its last loss is fit's last loss, bit for bit.
    assert np.asarray(metrics["loss"]).reshape(-1)[-1] == fitted
