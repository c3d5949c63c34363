"""`python -m squall.sqlite serve|shell`: the click group, before the main CLI has it."""

from __future__ import annotations

import sys

import click

from squall.sqlite.cli import sqlite_group
from squall.sqlite.standalone import exit_status


def main() -> int:
    """Run the group; a Squall error is printed as one line with its exit code."""
    try:
        return exit_status(
            lambda: sqlite_group.main(prog_name="python -m squall.sqlite", standalone_mode=False)
        )
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("Aborted!", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
