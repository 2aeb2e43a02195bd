"""One runnable module per catalogue row: ``python -m experiments.<name>``.

``python -m experiments`` runs all of them in ``--quick`` mode and prints one table.
"""

# The catalogue, in the order the course teaches it. Every name is a module here with a
# ``main(argv) -> metrics`` function.
CATALOGUE = [
    "linear_regression",
    "gradient_descent_1d",
    "linreg_scratch",
    "linreg_concise",
    "himmelblau",
    "tensor_basics",
    "autograd_basics",
    "activations",
    "loss_functions",
    "linreg_manual_grad",
    "backprop",
    "optimizers",
    "logistic_regression",
    "mnist_first",
    "mnist_mlp",
    "lenet",
    "capacity",
    "cross_validation",
    "regularization",
    "lr_schedules",
    "early_stopping_dropout",
    "conv_basics",
    "classic_cnns",
    "modules",
]
