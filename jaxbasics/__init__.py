"""jaxbasics: the examples of a PyTorch deep-learning course, the JAX way.

Pure functions for models, losses and regularised objectives, differentiated with
``jax.grad`` and trained by one jit-compiled engine (:mod:`jaxbasics.train`) with Optax.
"""

__version__ = "0.1.0"
