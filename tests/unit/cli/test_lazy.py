"""Commands are loaded lazily: `--help` lists every one, and none pulls in what it skips."""

from __future__ import annotations

import subprocess
import sys

import pytest

from squall.cli.main import COMMANDS, cli

HEAVY = ("docker", "rich", "fastapi", "pydantic", "squall.chaos.runner", "squall.api")
"""What no fault command needs: the Docker SDK, rich's tables, the HTTP API, the chaos
runner (a command on a netns cluster loads none of them)."""


def _loaded_after(code: str) -> set[str]:
    """Top-level heavy modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = set(done.stdout.split())
    return {h for h in HEAVY if h in names or any(n.startswith(h + ".") for n in names)}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_line_its_command_would_print(name: str) -> None:
    assert COMMANDS[name].summary == COMMANDS[name].load().get_short_help_str(limit=1000)


def test_help_lists_every_command_without_importing_any() -> None:
    code = (
        "import sys\nfrom squall.cli.main import cli\n"
        "sys.argv = ['squall', '--help']\n"
        "try:\n    cli.main(prog_name='squall')\nexcept SystemExit:\n    pass"
    )
    probe = f"{code}\nimport sys; print('MODULES', ' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listing, _, modules = done.stdout.partition("MODULES")
    commands = listing.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.startswith("  ")}
    listed = {n for n in listed if n in COMMANDS}
    assert listed == set(COMMANDS)
    assert not {
        n
        for n in modules.split()
        if n.startswith("squall.cli.")
        and n != "squall.cli.main"
        and n not in ("squall.cli.lazy", "squall.cli.options")
    }


@pytest.mark.parametrize("name", ["partition", "join", "slow", "fast", "shape", "status"])
def test_a_fault_command_and_the_operations_load_nothing_heavy(name: str) -> None:
    """The command's module and the operations it runs (status prints a rich table)."""
    loaded = _loaded_after(
        f"from squall.cli.main import COMMANDS\nCOMMANDS[{name!r}].load()\n"
        "import squall.ops.operations, squall.runtime.netns.backend"
    )
    assert loaded == ({"rich"} if name == "status" else set())


def test_the_group_finds_a_lazy_command_by_name() -> None:
    import click

    ctx = click.Context(cli)
    command = cli.get_command(ctx, "partition")
    assert command is not None and command.name == "partition"
    assert cli.get_command(ctx, "nosuchcommand") is None
