"""Data: synthetic generators, minibatch indices, MNIST / Fashion-MNIST, splits.

Every generator takes an explicit ``jax.random`` key and returns arrays whose first axis
is the example axis.
"""

from jaxbasics.data.batching import epoch_indices, num_batches, take
from jaxbasics.data.datasets import Dataset, load
from jaxbasics.data.splits import kfold_indices, split_indices, train_val_split
from jaxbasics.data.synthetic import linear_data, synthetic_data

__all__ = ["Dataset", "epoch_indices", "kfold_indices", "load", "linear_data", "num_batches",
           "split_indices", "synthetic_data", "take", "train_val_split"]
