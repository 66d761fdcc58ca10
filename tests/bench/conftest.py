import sys
from pathlib import Path

# The harness lives in bench/ at the repository root, outside the installed packages.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
