"""`import tinygrad_lstm` needs NumPy only: graphviz is imported when a graph is drawn, and
tqdm only by the example that shows a progress bar."""

import subprocess
import sys

# sys.modules[name] = None makes `import name` raise ImportError, as if it were not installed
PROGRAM = """
import sys
sys.modules["graphviz"] = sys.modules["tqdm"] = None
import tinygrad_lstm as tl
x = tl.Tensor([1.0], requires_grad=True)
(x * 2).sum().backward()
try:
    tl.viz.make_dot(x * 2)
except ImportError as e:
    print("ImportError:", e)
"""


def test_import_needs_neither_graphviz_nor_tqdm():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError: viz: drawing graphs needs the graphviz package")
    assert "pip install graphviz" in done.stdout


def test_import_does_not_load_graphviz_or_tqdm():
    program = "import sys, tinygrad_lstm; print(sorted({'graphviz', 'tqdm'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
