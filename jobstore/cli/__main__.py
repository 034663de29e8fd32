"""`python -m jobstore.cli`: the same as `codex-async`."""

import sys

from jobstore.cli.main import main

sys.exit(main())
