"""`codex-async`'s entry point: parse, run one command, turn the store's refusals into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping

from jobstore.cli import commands, follow, talk, worktree
from jobstore.cli.output import complain
from jobstore.cli.parser import ParserExtension, build_parser
from jobstore.errors import InvalidInput, JobStoreError
from jobstore.store import JobStore

EXIT_FAILED = 1
EXIT_REFUSED = 2

Command = Callable[[JobStore, argparse.Namespace], int]


def main(
    argv: list[str] | None = None,
    *,
    extend: ParserExtension | None = None,
    more_commands: Mapping[str, Command] | None = None,
    wrap_commands: Mapping[str, Callable[[Command], Command]] | None = None,
) -> int:
    """Run one command. `extend` and `more_commands` add another package's commands (the
    team's `worker`, whose entry point calls this): jobstore itself never imports them.
    `wrap_commands` puts another package's command around a built-in one, which it runs when
    the call is not its own (the team's list, show and follow read Redis when asked to)."""
    parser = build_parser(extend)
    args = parser.parse_args(argv)
    run = {
        **(more_commands or {}),
        **commands.COMMANDS,
        **talk.COMMANDS,
        **worktree.COMMANDS,
        "follow": follow.follow,
        "wait": follow.wait,
    }[args.command]
    wrapper = (wrap_commands or {}).get(args.command)
    if wrapper is not None:
        run = wrapper(run)
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
