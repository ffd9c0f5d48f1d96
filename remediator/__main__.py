"""`python -m remediator` is `cfha-remediator`."""

import sys

from remediator.cli import main

sys.exit(main())
