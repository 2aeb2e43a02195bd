"""Models as pure pairs: ``init_*(key, ...) -> params`` and ``apply_*(params, x) -> output``.

The Flax NNX versions sit beside them (``MLP``, from ``models.mlp_nnx``; the classic CNNs in
``models.cnns``); ``MLP`` is imported on first use, so the pure models do not import Flax.

Parameters are plain pytrees (dicts of arrays). A linear layer's weight has PyTorch's
layout (out_features, in_features); convolution kernels are HWIO (kh, kw, in, out) and
images NHWC, the project's layout (:mod:`jaxbasics.conv` converts from PyTorch's).
"""

from jaxbasics.models.lenet import apply_lenet, init_lenet
from jaxbasics.models.linear import apply_linear, init_linear
from jaxbasics.models.mlp import apply_mlp, init_mlp

__all__ = ["MLP", "apply_lenet", "apply_linear", "apply_mlp", "init_lenet", "init_linear",
           "init_mlp"]


def __getattr__(name: str):
    if name == "MLP":
        from jaxbasics.models.mlp_nnx import MLP
        return MLP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
