"""`post_start` / `pre_stop` hooks on the Docker backend: commands exec'd in the container.

As in Compose, `post_start` hooks run once the container has started (a failing one
fails `up`), `pre_stop` hooks before it is stopped (`stop`, `down`, a recreate).
The hooks and the stop grace period travel in the container's labels, so `stop` and
`down` find them again from the engine alone, without the cluster file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from squall.errors import BackendError
from squall.runtime.docker.engine import DockerEngine
from squall.spec.model import Hook, ServiceSpec

HOOKS_LABEL = "io.squall.hooks"
"""JSON: `{"post_start": [...], "pre_stop": [...]}`, each hook as `hook_json` writes it."""
STOP_GRACE_LABEL = "io.squall.stop-grace"
"""Seconds `stop` and `down` give the container (`stop_grace_period`)."""
OUTPUT_LIMIT = 400


@dataclass(frozen=True)
class StopPlan:
    """How one container is stopped: its hooks first, then the grace it is given."""

    pre_stop: tuple[Hook, ...] = ()
    post_start: tuple[Hook, ...] = ()
    grace: int | None = None

    @property
    def graceful(self) -> bool:
        """`down` stops it before removing it (it otherwise removes at once)."""
        return bool(self.pre_stop) or self.grace is not None


def hook_labels(service: ServiceSpec) -> dict[str, str]:
    """The labels that carry `service`'s hooks and stop grace period (none if unset)."""
    settings = service.settings
    labels: dict[str, str] = {}
    if settings.post_start or settings.pre_stop:
        document = {
            "post_start": [_hook_json(h) for h in settings.post_start],
            "pre_stop": [_hook_json(h) for h in settings.pre_stop],
        }
        labels[HOOKS_LABEL] = json.dumps(document, sort_keys=True, separators=(",", ":"))
    if settings.stop_grace_period is not None:
        labels[STOP_GRACE_LABEL] = str(int(settings.stop_grace_period))
    return labels


def stop_plan(labels: Mapping[str, str]) -> StopPlan:
    """What a container's labels say about its hooks (unreadable labels: none)."""
    try:
        document = json.loads(labels.get(HOOKS_LABEL) or "{}")
        post_start = tuple(_hook(item) for item in document.get("post_start", ()))
        pre_stop = tuple(_hook(item) for item in document.get("pre_stop", ()))
    except (ValueError, TypeError, KeyError, AttributeError):
        post_start = pre_stop = ()
    grace_text = labels.get(STOP_GRACE_LABEL, "")
    grace = int(grace_text) if grace_text.isdigit() else None
    return StopPlan(pre_stop=pre_stop, post_start=post_start, grace=grace)


def run_hooks(
    engine: DockerEngine, ident: str, hooks: Sequence[Hook], service: str, when: str
) -> None:
    """Run each hook in the container, in order, waiting for each.

    Raises:
        BackendError: a hook exits non-zero (its output's end is in the message).
    """
    for hook in hooks:
        exec_id = engine.exec_create(
            ident,
            hook.command,
            tty=False,
            stdin=False,
            user=hook.user,
            privileged=hook.privileged,
            working_dir=hook.working_dir,
            environment=hook.environment,
        )
        output = b"".join(
            chunk for pair in engine.exec_stream(exec_id, tty=False) for chunk in pair if chunk
        )
        code = engine.exec_exit_code(exec_id)
        if code:
            text = output.decode(errors="replace").strip().replace("\n", " ")[-OUTPUT_LIMIT:]
            raise BackendError(
                f"service {service!r}: {when} hook {' '.join(hook.command)!r} exited with "
                f"code {code}: {text or '(no output)'}",
                service=service,
            )


def _hook_json(hook: Hook) -> dict[str, object]:
    return {
        "command": list(hook.command),
        "user": hook.user,
        "privileged": hook.privileged,
        "working_dir": hook.working_dir,
        "environment": dict(hook.environment),
    }


def _hook(item: Mapping[str, object]) -> Hook:
    command = item["command"]
    environment = item.get("environment") or {}
    if not isinstance(command, list) or not isinstance(environment, dict):
        raise TypeError("not a hook")
    user, working_dir = item.get("user"), item.get("working_dir")
    return Hook(
        command=tuple(str(part) for part in command),
        user=str(user) if user is not None else None,
        privileged=bool(item.get("privileged")),
        working_dir=str(working_dir) if working_dir is not None else None,
        environment={str(k): str(v) for k, v in environment.items()},
    )


__all__ = ["HOOKS_LABEL", "STOP_GRACE_LABEL", "StopPlan", "hook_labels", "run_hooks", "stop_plan"]
