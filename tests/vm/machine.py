"""A Debian guest with `sch_netem`, booted under qemu (TCG), to run a command once.

The kernels of these machines lack `sch_netem`; Debian's own kernel has it (and htb,
ifb, mirred, NFQUEUE...) as modules, and boots under qemu without KVM (KVM stops with
an internal error here). Three steps, each cheap to repeat:

- `root_image()`: a bookworm root (mmdebstrap) with the project's dependencies
  (`pip install --target /opt/sq-deps`) and a systemd oneshot that runs the lane at
  boot, as an ext4 image plus the kernel and initrd, cached under `CACHE` in a folder
  named by a hash of `RECIPE` (a second run reuses it; a change to the recipe builds
  a new one). The root disk is booted with `-snapshot`: the cache is never written.
- `lane_disk()`: a second, small ext4 disk per run: the project itself
  (`pip install --no-deps --target site`), the repository's `tests/` and
  `benchmarks/`, and `run.sh`, the command to run.
- `boot()`: qemu, bounded by a timeout; the guest mounts the second disk on `/lane`,
  runs `run.sh` (its output in `/lane/out/console.log` and on the serial console,
  its exit code in `/lane/out/rc`), unmounts and powers off; `/lane/out` is copied
  back with debugfs, with the serial log beside it.

    python3 -m tests.vm.machine -- python3 -m squall doctor   # one command in a guest
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SQUALL_VM_CACHE", "/var/cache/squall-vm"))
QEMU = "qemu-system-x86_64"
_PR_SET_PDEATHSIG = 1
# no login prompt on the serial console: it carries the lane's output
KERNEL_ARGS = (
    "root=/dev/vda rw console=ttyS0 quiet panic=-1 systemd.mask=serial-getty@ttyS0.service"
)
GUEST_PACKAGES = (
    "linux-image-cloud-amd64",
    "systemd-sysv",
    "udev",
    "kmod",
    "iproute2",
    "iputils-ping",
    "iptables",
    "python3",
    "util-linux",
    "procps",
)
TEST_DEPENDENCIES = ("pytest>=8.0", "pytest-timeout>=2.3")
BOOT_SCRIPT = """\
#!/bin/sh
# Mount the lane disk and hand over to it (what runs lives there, not in the cache).
mkdir -p /lane
mount /dev/vdb /lane && sh /lane/boot.sh
"""
LANE_BOOT = """\
echo "squall-lane: running run.sh" >/dev/console
mkdir -p /lane/out
{ sh /lane/run.sh; echo $? >/lane/out/rc; } 2>&1 | tee /lane/out/console.log >/dev/console
echo "squall-lane: run.sh exited $(cat /lane/out/rc)" >/dev/console
cd /
sync
umount /lane
"""
UNIT = """\
[Unit]
Description=Squall VM lane: run /lane/run.sh once, then power off
After=local-fs.target
Wants=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/squall-lane
StandardOutput=journal+console
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Install]
WantedBy=multi-user.target
"""


class MachineError(RuntimeError):
    """The guest could not be built, booted, or did not report back."""


def project_dependencies() -> tuple[str, ...]:
    """The project's runtime dependencies, read from pyproject.toml (the one place)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return tuple(deps)


@dataclass(frozen=True)
class Recipe:
    """Everything the cached root depends on; its hash names the cache folder."""

    suite: str
    packages: tuple[str, ...]
    python: tuple[str, ...]
    boot_script: str
    unit: str

    def key(self) -> str:
        text = json.dumps(
            [self.suite, self.packages, self.python, self.boot_script, self.unit],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def recipe() -> Recipe:
    return Recipe(
        suite="bookworm",
        packages=GUEST_PACKAGES,
        python=project_dependencies() + TEST_DEPENDENCIES,
        boot_script=BOOT_SCRIPT,
        unit=UNIT,
    )


@dataclass(frozen=True)
class RootImage:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "root.img"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"


def missing_tools() -> list[str]:
    """The host programs the lane needs that are not installed."""
    tools = (QEMU, "mmdebstrap", "mkfs.ext4", "debugfs")
    return [tool for tool in tools if shutil.which(tool) is None]


def _run(argv: list[str], *, timeout: float, cwd: Path | None = None) -> None:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise MachineError(f"{argv[0]} exited {proc.returncode}: {tail}")


def _install_boot_unit(rootfs: Path, rec: Recipe) -> None:
    script = rootfs / "usr/local/sbin/squall-lane"
    script.write_text(rec.boot_script)
    script.chmod(0o755)
    (rootfs / "etc/systemd/system/squall-lane.service").write_text(rec.unit)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "squall-lane.service").symlink_to("/etc/systemd/system/squall-lane.service")
    (rootfs / "etc/hostname").write_text("squall-vm\n")


def _build(folder: Path, rec: Recipe) -> None:
    rootfs = folder / "rootfs"
    _run(
        ["mmdebstrap", "--variant=apt", f"--include={','.join(rec.packages)}",
         "--customize-hook=chroot \"$1\" passwd -d root", rec.suite, str(rootfs)],
        timeout=900,
    )  # fmt: skip
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--target", str(rootfs / "opt/sq-deps"), *rec.python],
        timeout=900,
    )  # fmt: skip
    _install_boot_unit(rootfs, rec)
    boot = rootfs / "boot"
    shutil.copy(next(boot.glob("vmlinuz-*")), folder / "vmlinuz")
    shutil.copy(next(boot.glob("initrd.img-*")), folder / "initrd.img")
    _run(["mkfs.ext4", "-q", "-F", "-d", str(rootfs), str(folder / "root.img"), "3G"], timeout=600)
    shutil.rmtree(rootfs)


def root_image(rec: Recipe | None = None, *, log: bool = True) -> RootImage:
    """The cached root for `rec`, built first if absent (minutes; then it is reused)."""
    rec = rec or recipe()
    image = RootImage(CACHE / rec.key())
    if image.disk.exists():
        return image
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if log:
        print(f"vm: building the guest root in {image.folder} (once per recipe)", flush=True)
    build = Path(tempfile.mkdtemp(dir=CACHE, prefix=".build-"))
    try:
        _build(build, rec)
        (build / "recipe.json").write_text(json.dumps(rec.__dict__, indent=1))
        build.rename(image.folder)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        if not image.disk.exists():  # not built by another run meanwhile
            raise
    if log:
        print(f"vm: guest root built in {time.monotonic() - started:.0f} s", flush=True)
    return image


def lane_disk(folder: Path, run_sh: str) -> Path:
    """An ext4 image holding this checkout's project, tests and benchmarks, and run.sh."""
    tree = folder / "lane"
    repo = tree / "repo"
    repo.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "*.egg-info")
    source = folder / "source"  # pip builds in the tree it is given: not in the checkout
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--target", str(tree / "site"), str(source)],
        timeout=300,
    )  # fmt: skip
    for name in ("tests", "benchmarks"):
        shutil.copytree(REPO / name, repo / name, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    (tree / "boot.sh").write_text(LANE_BOOT)
    (tree / "run.sh").write_text(
        "export PYTHONPATH=/lane/site:/opt/sq-deps:/lane/repo PYTHONDONTWRITEBYTECODE=1\n"
        "export SQUALL_VM_GUEST=1 PATH=/opt/sq-deps/bin:$PATH\n"
        "cd /lane/repo\n" + run_sh
    )
    disk = folder / "lane.img"
    _run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(disk), "512M"], timeout=120)
    shutil.rmtree(tree)
    return disk


@dataclass(frozen=True)
class Outcome:
    """What the guest left in /lane/out, copied to `out`; `console` is qemu's serial log."""

    rc: int
    out: Path
    console: str
    seconds: float

    @property
    def log(self) -> str:
        path = self.out / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""


def qemu_argv(image: RootImage, disk: Path) -> list[str]:
    return [
        QEMU, "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "2048", "-smp", "2",
        "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd),
        "-append", KERNEL_ARGS,
        "-drive", f"file={image.disk},format=raw,if=virtio,snapshot=on",
        "-drive", f"file={disk},format=raw,if=virtio",
        "-nic", "none",
    ]  # fmt: skip


def _die_with_parent() -> None:
    """In the qemu child: the kernel kills it when the lane's process dies (SIGTERM or
    SIGKILL of pytest run no `finally`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def boot(image: RootImage, run_sh: str, out: Path, *, timeout: float = 900) -> Outcome:
    """Boot the guest once to run `run_sh`; always ends qemu; results copied to `out`."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="squall-vm-") as tmp:
        disk = lane_disk(Path(tmp), run_sh)
        console_path = Path(tmp) / "serial.log"
        with console_path.open("w") as console:
            qemu = subprocess.Popen(
                qemu_argv(image, disk),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            try:
                qemu.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                serial = console_path.read_text(errors="replace")[-3000:]
                raise MachineError(
                    f"the guest did not power off within {timeout:.0f} s:\n{serial}"
                ) from None
            finally:  # a timeout, Ctrl-C or any error: no guest outlives the lane
                if qemu.poll() is None:
                    qemu.kill()
                    qemu.wait()
        serial = console_path.read_text(errors="replace")
        out.mkdir(parents=True, exist_ok=True)
        _run(["debugfs", "-R", f"rdump /out {out}", str(disk)], timeout=120)
        shutil.copy(console_path, out / "serial.log")
    rc_file = out / "out" / "rc"
    if not rc_file.exists():
        raise MachineError(
            f"the guest left no exit code (qemu {qemu.returncode}):\n{serial[-3000:]}"
        )
    return Outcome(int(rc_file.read_text()), out / "out", serial, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--out", type=Path, help="where to copy /lane/out (default: a new temp folder)"
    )
    parser.add_argument("command", nargs="+", help="run inside the guest, in /lane/repo")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"vm: missing {', '.join(missing)} (scripts/install.sh installs them)")
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="squall-vm-out-"))
    outcome = boot(root_image(), shlex.join(args.command) + "\n", out, timeout=args.timeout)
    print(outcome.log, end="")
    print(f"vm: exit {outcome.rc} after {outcome.seconds:.0f} s; files in {outcome.out}")
    return outcome.rc


if __name__ == "__main__":
    sys.exit(main())
