"""`python -m quakesense`: the same command as `quakesense`."""

import sys

from quakesense.cli import main

sys.exit(main())
