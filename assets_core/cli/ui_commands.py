"""``lakeplan ui``: serve the web UI for the project's store."""

from __future__ import annotations

import argparse
from typing import Any

from .core_commands import add_target, command, whole_number_option


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "ui",
        "serve a web UI: the asset graph, each asset's status and history, runs as they happen",
        "examples:\n"
        "  lakeplan ui                                   http://127.0.0.1:3000, read-only\n"
        "  lakeplan ui --host 0.0.0.0 --port 8080 --allow-launch   reachable by others; may start runs\n",
    )
    add_target(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=whole_number_option(1, 65535), default=3000, help="port (default: 3000)")
    parser.add_argument(
        "--allow-launch", action="store_true", help="let the UI start materializations (local executor); off by default"
    )
    parser.set_defaults(handler=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from ..ui.server import serve

    serve(args.target, args.host, args.port, args.allow_launch, lambda line: print(line, flush=True))
    return 0
