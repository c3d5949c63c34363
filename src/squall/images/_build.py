"""Build the local base images from Debian packages: no registry is touched."""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from squall.errors import BackendError, KernelCommandFailed
from squall.linux.commands import Runner
from squall.runtime.base import Progress, SilentProgress
from squall.runtime.docker.engine import DockerEngine

BUSYBOX_IMAGE = "squall/busybox:latest"
DEBIAN_IMAGE = "squall/debian:bookworm"
LOCAL_IMAGES = (BUSYBOX_IMAGE, DEBIAN_IMAGE)
BASE_LABEL = "io.squall.image"
RECIPE_LABEL = "io.squall.recipe"
"""What an image was built from; an image from an older recipe is rebuilt."""

DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = (
    "python3",
    "socat",
    "ncat",
    "netcat-openbsd",  # `nc` is OpenBSD's (`nc -kld PORT`, as Blockade's examples use)
    "sqlite3",
    "iputils-ping",
    "iproute2",
    "procps",
    "iptables",  # benchmarks/fault_apply.py's Blockade-style baseline runs it via docker exec
    "ca-certificates",
)

BUSYBOX_BINARY = Path("/bin/busybox")

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n"
_NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\n"


def recipe(ref: str) -> str:
    """A short hash of what goes into `ref`, kept in its RECIPE_LABEL."""
    parts = (DEBIAN_SUITE, *DEBIAN_PACKAGES) if ref == DEBIAN_IMAGE else ("busybox-static",)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


_BUSYBOX_DOCKERFILE = f"""\
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL {BASE_LABEL}=base {RECIPE_LABEL}={recipe(BUSYBOX_IMAGE)}
CMD ["sh"]
"""


def build_local_images(
    progress: Progress | None = None,
    *,
    force: bool = False,
    only: Sequence[str] = (),
    engine: DockerEngine | None = None,
) -> list[str]:
    """Build `squall/busybox:latest` and `squall/debian:bookworm` where missing.

    Args:
        progress: receives one line per step.
        force: rebuild images that already exist.
        only: restrict to these image references (default: both).
        engine: the engine to build in (default: `DockerEngine()` from the environment).

    Returns:
        The references of the images built now (those skipped are not listed).

    Raises:
        EngineUnavailable: no engine answers.
        BackendError: a build step failed (missing `busybox-static` or `mmdebstrap`...).
    """
    progress = progress or SilentProgress()
    own_engine = engine is None
    engine = engine or DockerEngine()
    builders: dict[str, Callable[[DockerEngine, Progress], None]] = {
        BUSYBOX_IMAGE: build_busybox_image,
        DEBIAN_IMAGE: build_debian_image,
    }
    wanted = list(only) or list(LOCAL_IMAGES)
    unknown = [ref for ref in wanted if ref not in builders]
    if unknown:
        raise BackendError(f"unknown local image(s) {unknown}; known: {list(LOCAL_IMAGES)}")
    built: list[str] = []
    try:
        for ref in wanted:
            previous = engine.inspect_image(ref)
            labels = ((previous or {}).get("Config") or {}).get("Labels") or {}
            if not force and previous is not None and labels.get(RECIPE_LABEL) == recipe(ref):
                progress.step(ref, "present (use force to rebuild)", done=True)
                continue
            started = time.monotonic()
            builders[ref](engine, progress)
            if previous is not None:
                _prune_replaced(engine, ref, str(previous["Id"]))
            progress.step(ref, f"built in {time.monotonic() - started:.1f}s", done=True)
            built.append(ref)
    finally:
        if own_engine:
            engine.close()
    return built


def busybox_context(binary: Path = BUSYBOX_BINARY) -> bytes:
    """The build context (a tar) of the busybox image: Dockerfile plus a root tree."""
    if not binary.is_file():
        raise BackendError(
            f"{binary} is missing: install Debian's busybox-static (apt-get install busybox-static)"
        )
    applets = _busybox_applets(binary)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_file(tar, "Dockerfile", _BUSYBOX_DOCKERFILE.encode())
        for directory, mode in (
            ("rootfs", 0o755),
            ("rootfs/bin", 0o755),
            ("rootfs/etc", 0o755),
            ("rootfs/root", 0o700),
            ("rootfs/tmp", 0o1777),
            ("rootfs/var", 0o755),
            ("rootfs/var/www", 0o755),
            ("rootfs/usr", 0o755),
            ("rootfs/usr/local", 0o755),
            ("rootfs/usr/local/bin", 0o755),
        ):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            tar.addfile(info)
        # Merged /usr, as on Debian: /sbin, /usr/bin and /usr/sbin all lead to /bin.
        for link, target in (("sbin", "bin"), ("usr/bin", "../bin"), ("usr/sbin", "../bin")):
            _add_symlink(tar, f"rootfs/{link}", target)
        info = tarfile.TarInfo("rootfs/bin/busybox")
        info.mode = 0o755
        info.size = binary.stat().st_size
        with binary.open("rb") as handle:
            tar.addfile(info, handle)
        for applet in applets:
            if applet != "busybox":
                _add_symlink(tar, f"rootfs/bin/{applet}", "busybox")
        _add_file(tar, "rootfs/etc/passwd", _PASSWD.encode())
        _add_file(tar, "rootfs/etc/group", _GROUP.encode())
        _add_file(tar, "rootfs/etc/nsswitch.conf", _NSSWITCH.encode())
    return buffer.getvalue()


def build_busybox_image(engine: DockerEngine, progress: Progress) -> None:
    """Build `squall/busybox:latest` from the host's static busybox (a few seconds)."""
    progress.step(BUSYBOX_IMAGE, f"building FROM scratch with {BUSYBOX_BINARY}")
    context = busybox_context()
    for line in engine.build_from_context(context, tag=BUSYBOX_IMAGE, subject=BUSYBOX_IMAGE):
        progress.step(BUSYBOX_IMAGE, line)


def build_debian_image(engine: DockerEngine, progress: Progress) -> None:
    """Build `squall/debian:bookworm`: `mmdebstrap ... -` piped into the engine's import."""
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise BackendError(
            f"cannot build {DEBIAN_IMAGE}: mmdebstrap is missing (apt-get install mmdebstrap)"
        )
    argv = [
        mmdebstrap,
        "--variant=apt",
        "--format=tar",
        f"--include={','.join(DEBIAN_PACKAGES)}",
        # Keep the image small: no documentation, no apt lists.
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
        DEBIAN_SUITE,
        "-",
    ]
    progress.step(DEBIAN_IMAGE, "running " + " ".join(argv[:4]) + f" {DEBIAN_SUITE} -")
    changes = [
        f"LABEL {BASE_LABEL}=base {RECIPE_LABEL}={recipe(DEBIAN_IMAGE)}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["/bin/bash"]',
    ]
    try:
        with Runner().streaming(
            argv, on_stderr=lambda line: progress.step(DEBIAN_IMAGE, line)
        ) as tree:
            engine.import_image(_chunks(tree), DEBIAN_IMAGE, changes=changes)
    except KernelCommandFailed:
        # The engine may have imported a truncated tree: do not leave it tagged.
        engine.remove_image(DEBIAN_IMAGE)
        raise


def _prune_replaced(engine: DockerEngine, ref: str, old_id: str) -> None:
    """Remove the image `ref` named before a rebuild, unless something still uses it."""
    current = engine.inspect_image(ref)
    if current is None or current["Id"] == old_id:
        return
    with contextlib.suppress(BackendError):  # still used by a container or a child image
        engine.remove_image(old_id, force=False)


def _busybox_applets(binary: Path) -> list[str]:
    listed = Runner().run((str(binary), "--list")).stdout
    return sorted({name for name in listed.split() if name and "/" not in name})


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def _chunks(stream: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
