"""The one entry point: ``gspmc <command> ...``.

Each command lives next to the code it drives, in a module exposing
``register(subparsers) -> None`` (adds its parser and sets ``func=run``). Modules are imported
only when listed here, so ``gspmc --help`` stays fast; nothing imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
import threading

from gspmc.errors import GspmcError

# command name -> module that defines register(subparsers)
COMMANDS: dict[str, str] = {
    "data": "gspmc.data.fetch",
    "describe": "gspmc.describe.command",
    "embed": "gspmc.text.command",
    "fit": "gspmc.train.command",
    "test": "gspmc.train.command",
    "demo": "gspmc.train.command",
    "grid": "gspmc.train.command",
    "info": "gspmc.train.command",
    "extract": "gspmc.video.command",
    "predict": "gspmc.apps.command",
    "export": "gspmc.apps.command",
    "live": "gspmc.apps.command",
    "transcribe": "gspmc.apps.command",
    "studio": "gspmc.apps.command",
    "enroll": "gspmc.openvocab.command",
}


def _available_commands() -> dict[str, str]:
    """Commands whose modules exist (parts land one at a time)."""
    found = {}
    for name, module in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    from gspmc import __version__

    parser = argparse.ArgumentParser(prog="gspmc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gspmc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in dict.fromkeys(_available_commands().values()):
        importlib.import_module(module).register(sub)
    return parser


def interruptible() -> None:
    """Make Ctrl-C (SIGINT) stop the command with KeyboardInterrupt, whatever the process inherited.

    A process started with SIGINT ignored (a job that a non-interactive shell script starts with ``&``,
    and every process it starts in turn) keeps ignoring it: Python installs its KeyboardInterrupt handler
    only over the default disposition. Then Ctrl-C or ``kill -INT`` did nothing, and a long command ran
    to its end instead of stopping and keeping its finished work. The commands are written to be
    interrupted (every result is written atomically as soon as it is ready), so the handler is installed
    unconditionally. Only the main thread can install handlers; elsewhere nothing changes.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    interruptible()
    try:
        return int(args.func(args) or 0)
    except GspmcError as err:
        print(f"gspmc {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gspmc {args.command}: interrupted; finished work is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
