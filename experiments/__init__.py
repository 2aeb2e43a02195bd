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
    "conv_basics",
    "classic_cnns",
    "modules",
]
