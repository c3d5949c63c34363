"""`python3 -m squall.faults.agent`: answer the request on stdin (see `serve`)."""

from __future__ import annotations

import sys

from squall.faults.agent.serve import answer


def main() -> int:
    sys.stdout.write(answer(sys.stdin.read()))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
