"""`python -m squall.expiry`: one `--duration` timer (see `squall.expiry`)."""

from __future__ import annotations

import os
import signal
import sys
import time

from squall.errors import SquallError
from squall.events import Actor
from squall.expiry import MODULE
from squall.linux.procs import read_pid
from squall.ops.opening import detached_parser, detached_where, open_session


def main(argv: list[str] | None = None) -> int:
    parser = detached_parser(MODULE, __doc__)
    parser.add_argument("--at", type=float, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(max(0.0, args.at - time.time()))
    try:
        session = open_session(detached_where(args), actor=Actor("timer"))
        with session.backend:
            session.reconcile_faults()
    except SquallError as exc:
        print(f"squall expiry: {exc}", file=sys.stderr)
        return 1
    finally:
        if read_pid(args.pidfile) == os.getpid():
            args.pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
