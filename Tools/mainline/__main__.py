"""Entry point: ``python Tools/mainline SUBCOMMAND`` (or, with Tools/ on
sys.path, ``python -m mainline SUBCOMMAND``)."""

import sys
from pathlib import Path

if not __package__:
    # Run as a directory: import this package from its parent, Tools/, and
    # keep the package's own directory off sys.path (its modules are not
    # top-level modules).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from mainline.cli import main  # noqa: E402

sys.exit(main())
