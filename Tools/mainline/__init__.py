"""Verify the change on CPython's main line: 3.15 from Debian sid's binary
packages, in a chroot (see README.rst)."""

import sys
from pathlib import Path

# carry (Tools/carry) reads the stored change, the sources' record and the
# apt entries: mainline reuses it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "carry"))
