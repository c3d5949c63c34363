"""`python -m squall.watcher`: one cluster's watcher (see `squall.watcher`)."""

from __future__ import annotations

import os
import signal
import sys

from squall.errors import SquallError
from squall.events import Actor
from squall.linux.procs import read_pid
from squall.ops.opening import detached_parser, detached_where, open_session
from squall.runtime.select import make_backend
from squall.watcher import MODULE, claim
from squall.watcher.loop import Watcher


def main(argv: list[str] | None = None) -> int:
    parser = detached_parser(MODULE, __doc__)
    parser.add_argument("--since", type=float, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if not claim(args.pidfile):
        return 0  # another watcher of this cluster runs
    try:
        session = open_session(detached_where(args), actor=Actor("watcher"))
        with session.backend, make_backend(session.backend.name) as follow:
            Watcher(session, args.since, follow).run()
    except SquallError as exc:
        print(f"squall watcher: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if read_pid(args.pidfile) == os.getpid():
            args.pidfile.unlink(missing_ok=True)
    print(f"squall watcher {os.getpid()}: cluster {args.project} gone, leaving", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
