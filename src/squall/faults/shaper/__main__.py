"""`python -m squall.faults.shaper --config PATH --pidfile PATH [--status PATH] [--log PATH]
[--no-realtime]`.

Started detached by `control.ensure_shaper`; runs until SIGTERM. Exit codes: 0 after a
clean stop, 1 when another shaper owns the pidfile or the loop failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from squall.faults.shaper.daemon import AlreadyRunning, Daemon

log = logging.getLogger("squall.faults.shaper")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m squall.faults.shaper")
    parser.add_argument("--config", type=Path, required=True, help="ShaperConfig JSON file")
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument(
        "--status",
        type=Path,
        default=None,
        help="status JSON to write (default: shaper.status.json beside --config)",
    )
    parser.add_argument("--log", type=Path, default=None, help="log file (default: stderr)")
    parser.add_argument(
        "--no-realtime",
        dest="realtime",
        action="store_false",
        help="stay in the normal scheduling class (delays get less precise)",
    )
    args = parser.parse_args(argv)

    handler: logging.Handler = (
        logging.FileHandler(args.log) if args.log else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("squall")
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    config = args.config.absolute()
    status = (args.status or config.with_name("shaper.status.json")).absolute()
    daemon = Daemon(config, args.pidfile.absolute(), status, realtime=args.realtime)
    log.info("shaper %d starting with %s", os.getpid(), config)
    try:
        code = daemon.run()
    except AlreadyRunning as exc:
        log.error("%s", exc)
        return 1
    except Exception:
        log.exception("shaper failed")
        return 1
    log.info("shaper %d stopped", os.getpid())
    return code


if __name__ == "__main__":
    sys.exit(main())
