"""codex-tui with some `TuiConfig` fields overridden, to measure a proposed change without
editing tui/:  python -m benchmarks.tui_variant --store DIR --set watch_step_ms=20 ...

Builds the configuration exactly as `codex-tui` does (tui.__main__), then replaces the fields.
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace

from jobstore.settings import Settings
from tui.__main__ import config_from_args, parse_args
from tui.config import TuiConfig


def main() -> int:
    argv = sys.argv[1:]
    overrides: dict[str, object] = {}
    while "--set" in argv:
        i = argv.index("--set")
        name, _, value = argv[i + 1].partition("=")
        kind = {f.name: f.type for f in fields(TuiConfig)}[name]
        overrides[name] = (
            float(value) if "float" in str(kind) else int(value) if "int" in str(kind) else value
        )
        del argv[i : i + 2]
    args = parse_args(argv)
    config = config_from_args(args, Settings.from_env())
    config = replace(config, **overrides)  # type: ignore[arg-type]
    from tui.app import CodexTuiApp

    CodexTuiApp(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
