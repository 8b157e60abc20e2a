"""Test-session settings, read before any test module imports NumPy."""

import os

# The tests use small arrays, where OpenBLAS's threads cost more than they give and slow down
# many times over on a machine whose cores are shared (CI runs 2 cores). Examples set the same.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
