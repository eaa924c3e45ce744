"""Entry point: builds the parser from each command module and turns user errors into one line."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from ..errors import ExitCode, LakeplanError
from ..masking import mask_text
from .output import print_notes

# Each module has ``register(subparsers)``; heavy imports stay inside the command functions.
COMMAND_MODULES = (
    "assets_core.cli.core_commands",
    "argo_compiler.cli",
    "assets_core.cli.audit_commands",
    "assets_core.cli.check_commands",
    "assets_core.cli.ui_commands",
    "io_managers.lakefs_sync",
    "io_managers.lakefs_gc",
)

DESCRIPTION = """\
lakeplan: versioned data and model pipelines that rebuild only what is stale.

Declare assets as Python functions (parameters name their upstream assets), then:
  lakeplan plan -m examples.quickstart.pipeline          what is stale, and why
  lakeplan materialize -m examples.quickstart.pipeline   build only the stale assets

-m takes a module name or a path to a .py file; set module = "..." under [tool.lakeplan] in
pyproject.toml to leave it out. Run 'lakeplan COMMAND --help' for each command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakeplan", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
        print_notes()
        return code
    except LakeplanError as exc:
        if args.debug:
            print(mask_text(traceback.format_exc()), end="", file=sys.stderr)
        print(f"error: {mask_text(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
