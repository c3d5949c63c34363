"""`python3 -m squall.sqlite.standalone --db FILE`: the server with the standard library only.

For containers that have python3 and Squall's source but not its dependencies (click):
the same options as `squall sqlite serve`, parsed with argparse.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from squall.errors import SquallError
from squall.sqlite.config import ServeOptions
from squall.sqlite.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m squall.sqlite.standalone", description="SQLite network server."
    )
    parser.add_argument("--db", required=True, type=Path, help="the SQLite database file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=12345)
    parser.add_argument("--read-only", action="store_true", help="refuse every write")
    parser.add_argument("--token-file", type=Path, help="clients must send this token first")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--statement-timeout", default="5s", help="e.g. 5s, 500ms")
    parser.add_argument("--max-rows", type=int, help="rows returned per statement at most")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, serve until SIGTERM; the exit status."""
    args = _parser().parse_args(argv)
    return exit_status(lambda: serve(ServeOptions(**vars(args)).config()))


def exit_status(run: Callable[[], object]) -> int:
    """Run a command; a Squall error becomes one line on stderr and its exit code."""
    try:
        run()
    except SquallError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
