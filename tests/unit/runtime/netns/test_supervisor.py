"""The netns supervisor's restart policies, as Docker applies them."""

from __future__ import annotations

import pytest

from squall.runtime.netns.supervisor import restarts


@pytest.mark.parametrize(
    ("policy", "code", "restarted", "expected"),
    [
        ("no", 1, 0, False),
        ("always", 0, 9, True),
        ("unless-stopped", 0, 0, True),
        ("on-failure", 0, 0, False),
        ("on-failure", 1, 5, True),
        ("on-failure:2", 1, 2, False),
    ],
)
def test_restart_policies(policy: str, code: int, restarted: int, expected: bool) -> None:
    assert restarts(policy, code, restarted) is expected
