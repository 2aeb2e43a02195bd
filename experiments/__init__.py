"""One runnable module per catalogue row: ``python -m experiments.<name>``.

``python -m experiments`` runs all of them in ``--quick`` mode and prints one table.
"""

# The catalogue, in the order the course teaches it. Every name is a module here with a
# ``main(argv) -> metrics`` function.
CATALOGUE = [
    # A. regression, gradients and the fundamentals
    "linear_regression",
    "gradient_descent_1d",
    "linreg_manual_grad",
    "linreg_scratch",
    "linreg_concise",
    "autograd_basics",
    "himmelblau",
    "minibatch_gd",
    "optimizers",
    "loss_functions",
    "activations",
    "backprop",
    "tensor_basics",
    # B. classification
    "logistic_regression",
    "mnist_first",
    "mnist_mlp",
    "lenet",
    # C. generalisation
    "capacity",
    "cross_validation",
    "regularization",
    "lr_schedules",
    "early_stopping_dropout",
    # D. convolutions and modules
    "conv_basics",
    "classic_cnns",
    "modules",
    # D′. seeing training (TensorBoard)
    "visualization",
]
