"""`python -m team`: the same as `codex-async` (with the team's `worker` command)."""

import sys

from team.cli import main

sys.exit(main())
