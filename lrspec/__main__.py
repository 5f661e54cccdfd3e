"""``python -m lrspec``: the command line."""

import sys

from lrspec.cli import main

sys.exit(main())
