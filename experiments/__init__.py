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



# A command line being started (``python -m experiments[.NAME]``): Ctrl-C before its flags
# are read, while JAX is imported, is noted (a KeyboardInterrupt raised inside one of JAX's
# garbage-collector callbacks is swallowed, and the run went on) and, if it escapes the
# imports, answered in one line instead of a traceback. ``_cli.run`` then stops a run that
# was interrupted this way and gives Ctrl-C back its default handler.
import signal  # noqa: E402  (after the catalogue, which is what this module is read for)
import sys  # noqa: E402

interrupted_while_starting = False


def _note_interrupt(signum, frame):
    global interrupted_while_starting
    interrupted_while_starting = True
    raise KeyboardInterrupt


def _quiet_interrupt(hook):
    def excepthook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write("\ninterrupted while starting; nothing was run\n"
                             if interrupted_while_starting else "\ninterrupted\n")
            return
        hook(kind, value, traceback)
    return excepthook


if (sys.argv and sys.argv[0] == "-m"
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _note_interrupt)
    sys.excepthook = _quiet_interrupt(sys.excepthook)
