"""Make ``tests/fixtures.py`` importable as ``fixtures`` under any pytest import
mode, in this process and in ``spawn`` children (they inherit ``sys.path``)."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
