"""codex-async-mcp with the garbage collector held off while it starts, to measure that
proposed change without editing mcp_server/:  python -m benchmarks.server_variant [args]

The collector is disabled before anything is imported; once the server is built, the
objects that exist are frozen out of future collections (gc.freeze) and it is turned on again.
"""

from __future__ import annotations

import gc
import sys


def main() -> int:
    gc.disable()
    import mcp_server.__main__ as entry
    import mcp_server.server as server_module

    create = server_module.create_server

    def create_then_collect(*args, **kwargs):  # type: ignore[no-untyped-def]
        built = create(*args, **kwargs)
        gc.freeze()
        gc.enable()
        return built

    server_module.create_server = create_then_collect
    return entry.main()


if __name__ == "__main__":
    sys.exit(main())
