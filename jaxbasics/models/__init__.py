"""Models as pure pairs: ``init_*(key, ...) -> params`` and ``apply_*(params, x) -> output``.

Parameters are plain pytrees (dicts of arrays) with PyTorch's layouts: a linear layer's
weight is (out_features, in_features).
"""

from jaxbasics.models.linear import apply_linear, init_linear
from jaxbasics.models.mlp import apply_mlp, init_mlp

__all__ = ["apply_linear", "apply_mlp", "init_linear", "init_mlp"]
