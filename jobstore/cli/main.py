"""`codex-async`'s entry point: parse, run one command, turn the store's refusals into exit codes."""

from __future__ import annotations

import sys

from jobstore.cli import commands, follow, talk, worktree
from jobstore.cli.output import complain
from jobstore.cli.parser import build_parser
from jobstore.errors import InvalidInput, JobStoreError
from jobstore.store import JobStore

EXIT_FAILED = 1
EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = {
        **commands.COMMANDS,
        **talk.COMMANDS,
        **worktree.COMMANDS,
        "follow": follow.follow,
        "wait": follow.wait,
    }[args.command]
    try:
        store = JobStore(args.store)
        return run(store, args)
    except InvalidInput as exc:
        complain(str(exc))
        return EXIT_REFUSED
    except JobStoreError as exc:
        complain(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return follow.EXIT_INTERRUPTED
    except BrokenPipeError:  # `codex-async list | head`: the reader left, nothing to say
        sys.stderr.close()
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
