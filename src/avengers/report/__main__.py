"""`python -m avengers.report ...` is `avengers-tables ...`."""

import sys

from avengers.report.cli import main

sys.exit(main())
