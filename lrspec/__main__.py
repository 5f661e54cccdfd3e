"""``python -m lrspec``: the command line (see :mod:`lrspec.cli`)."""

import sys

from lrspec.cli import main

if __name__ == "__main__":
    sys.exit(main())
