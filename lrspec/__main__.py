"""``python -m lrspec``: the command line (see :mod:`lrspec.tools.cli`)."""

import sys

from lrspec.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
