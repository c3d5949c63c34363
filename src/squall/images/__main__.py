"""`python -m squall.images [--force] [IMAGE...]`: build the local base images."""

from __future__ import annotations

import argparse
import sys
import time

from squall.errors import SquallError
from squall.images._build import LOCAL_IMAGES, build_local_images


class _PrintProgress:
    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        mark = "done" if done else "...."
        print(f"[{mark}] {subject}: {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m squall.images",
        description="Build Squall's local base images from Debian packages (no registry).",
    )
    parser.add_argument("--force", action="store_true", help="rebuild images that exist")
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help=f"images to build (default: all of {', '.join(LOCAL_IMAGES)})",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        built = build_local_images(_PrintProgress(), force=args.force, only=args.images)
    except SquallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"built {len(built)} image(s) in {time.monotonic() - started:.1f}s: {built}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
