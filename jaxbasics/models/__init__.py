"""Models as pure pairs: ``init_*(key, ...) -> params`` and ``apply_*(params, x) -> output``.

The Flax NNX versions sit beside them (``MLP``; the classic CNNs in ``models.cnns``).

Parameters are plain pytrees (dicts of arrays). A linear layer's weight has PyTorch's
layout (out_features, in_features); convolution kernels are HWIO (kh, kw, in, out) and
images NHWC, the project's layout (:mod:`jaxbasics.conv` converts from PyTorch's).
"""

from jaxbasics.models.lenet import apply_lenet, init_lenet
from jaxbasics.models.linear import apply_linear, init_linear
from jaxbasics.models.mlp import MLP, apply_mlp, init_mlp

__all__ = ["MLP", "apply_lenet", "apply_linear", "apply_mlp", "init_lenet", "init_linear",
           "init_mlp"]
