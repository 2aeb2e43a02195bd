import os

# Tests run on the CPU with float32, as the experiments do; figures go to files only.
os.environ.setdefault("MPLBACKEND", "Agg")
