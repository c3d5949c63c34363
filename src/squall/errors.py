"""Every error Squall raises on purpose, in one tree.

The CLI catches `SquallError` once, prints `str(error)` (one line) and exits with
`error.exit_code`; the library never calls `sys.exit`.

    SquallError
    ├── SpecError            a cluster file is wrong (path, line, column, field)
    ├── UsageError           a command's own arguments are wrong
    ├── StateError           the state directory or its lock
    │   └── ClusterBusy          another command holds the cluster's lock
    ├── BackendError         the engine or the kernel refused something
    │   ├── EngineUnavailable    no Docker Engine answers
    │   ├── ImageMissing         an image is absent and cannot be pulled
    │   └── ServiceNotFound      no such service / container in the cluster
    ├── SqliteServerError    the SQLite network server or its client
    ├── ProbeError           `squall probe` could not measure (not root, no namespace)
    ├── ChaosError           a chaos run could not start, stop or replay
    │   └── ChaosRunning         one is already going on the cluster
    └── FaultError           a fault could not be planned, applied or read back
        ├── FaultUnsupported     this kernel lacks what the fault needs
        ├── KernelCommandFailed  a kernel command failed (argv, exit code, stderr)
        ├── FaultRolledBack      a change failed half way; what was in force is back
        ├── FaultDrift           the kernel no longer holds the faults in force (exit 3)
        └── ShaperError          the userspace shaper did not start or serve its config
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class SquallError(Exception):
    """Root of every error Squall raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Location:
    """Where in a cluster file something was written (1-based line and column)."""

    path: Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = str(self.path)
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class SpecError(SquallError):
    """A cluster file cannot be used: `path:line:col: field: message`."""

    exit_code = 2

    def __init__(self, message: str, location: Location, field: str | None = None) -> None:
        self.location = location
        self.field = field
        self.reason = message
        prefix = f"{location}: "
        if field:
            prefix += f"{field}: "
        super().__init__(prefix + message)


class UsageError(SquallError):
    """A command's own arguments are wrong (bad duration, unknown flag value...)."""

    exit_code = 2


class StateError(SquallError):
    """The state directory cannot be read or its lock is held by someone else."""


class ClusterBusy(StateError):
    """Another command holds the cluster's lock (and did not let go in time)."""


class BackendError(SquallError):
    """The engine or the kernel refused an operation."""

    def __init__(self, message: str, service: str | None = None) -> None:
        self.service = service
        super().__init__(message)


class EngineUnavailable(BackendError):
    """No Docker Engine answers where we looked."""


class ImageMissing(BackendError):
    """An image is not present locally and could not be pulled."""

    def __init__(self, image: str, service: str | None = None, hint: str = "") -> None:
        self.image = image
        message = f"image {image!r} is not present and cannot be pulled"
        if service:
            message = f"service {service!r}: " + message
        if hint:
            message += f"; {hint}"
        super().__init__(message, service=service)


class ServiceNotFound(BackendError):
    """A command named a service the cluster does not have (or that is not created)."""


class SqliteServerError(SquallError):
    """The SQLite network server or its client failed."""


class SqliteQueryError(SqliteServerError):
    """The SQLite server refused a statement: `code` is SQLite's name for why
    (`SQLITE_CONSTRAINT_UNIQUE`...), `output` what was printed before it failed."""

    def __init__(self, message: str, code: str | None = None, output: str = "") -> None:
        self.code = code
        self.output = output
        super().__init__(message)


class ProbeError(SquallError):
    """Probes could not be sent: not root, a namespace is gone, no such pair."""


class ChaosError(SquallError):
    """A chaos run could not be planned, started, stopped or replayed."""


class ChaosRunning(ChaosError):
    """A chaos run is already going on the cluster."""


class FaultError(SquallError):
    """A fault could not be planned, applied, read back or cleared."""

    def __init__(self, message: str, netns: str | None = None) -> None:
        self.netns = netns
        super().__init__(message)


class FaultUnsupported(FaultError):
    """This kernel lacks what a fault needs (e.g. ingress rate without ifb)."""


class KernelCommandFailed(FaultError):
    """A kernel command (`ip`, `tc`, `iptables*`, `nsenter`, `mmdebstrap`...) failed.

    Raised by `squall.linux.commands`, the one runner of such commands, for faults and
    backends alike. Carries the argv, the exit code (127: not installed, -1: did not
    finish), its stderr and the namespace it ran in; the message shows the argv and the
    last lines of stderr, or `reason` when the caller knows better (a vanished namespace).
    """

    def __init__(
        self,
        argv: tuple[str, ...],
        stderr: str,
        returncode: int,
        netns: str | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        self.argv = argv
        self.stderr = stderr
        self.returncode = returncode
        if reason is None:
            lines = [line.strip() for line in stderr.splitlines() if line.strip()]
            detail = "; ".join(lines[-3:])[:500] or f"exit status {returncode}"
            where = f" in {netns}" if netns else ""
            reason = f"{' '.join(argv)}{where}: {detail}"
        super().__init__(reason, netns=netns)


class FaultRolledBack(FaultError):
    """A fault change failed part way and the faults in force before it were put back
    in every namespace and the shaper: nothing changed. `cause` is the step's error."""

    def __init__(self, cause: SquallError) -> None:
        self.cause = cause
        netns = cause.netns if isinstance(cause, FaultError) else None
        super().__init__(f"{cause}; nothing changed: the faults in force before are back", netns)


class FaultDrift(FaultError):
    """The kernel differs from the faults in force for `services` (a service restarted
    outside Squall, a rule removed by hand): `squall status` exits with code 3 and says
    what repairs it (`squall reconcile`)."""

    exit_code = 3

    def __init__(self, message: str, services: tuple[str, ...]) -> None:
        self.services = services
        super().__init__(message)


class ShaperError(FaultError):
    """The shaper did not start, did not apply its config, or could not serve part of it.

    `failures` names the namespaces and queues it could not serve, when that is why
    (`squall.faults.shaper.status.Failure` values).
    """

    def __init__(self, message: str, failures: tuple[object, ...] = ()) -> None:
        self.failures = failures
        super().__init__(message)
