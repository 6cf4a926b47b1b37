"""The `runstream` console script: the CLI, or a clear word when only the SDK is installed."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from runstream.cli import main as cli
    except ImportError as exc:  # the base install is the SDK alone; the command needs the server's packages
        sys.exit(f"runstream: the `runstream` command needs the server's packages ({exc.name} is missing): "
                 "pip install 'runstream[server]'")
    cli()
