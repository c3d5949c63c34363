"""Schemathesis against the served OpenAPI document, on the test's own cluster.

Every generated request goes to this module's `squall serve` on 127.0.0.1, whose only
cluster is this module's (any other name is 404). The cluster name in the path is
mostly set to that cluster, so generated bodies reach the real session code. Left out:
`up`, `down` and Blockade's create / destroy (they would remove the cluster under the
other cases), starting chaos (it would change the cluster under the other cases), the
endless event stream (all tested in test_routes), and Blockade's changes and chaos,
which answer 500 by design to unknown containers and to chaos with no run going on,
as Blockade's daemon did (tested in test_blockade_rest).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.integration.api.conftest import Served

pytestmark = pytest.mark.docker

EXAMPLES = 6


def operations(served: Served) -> list[Any]:
    loaded: Any = schemathesis.openapi.from_url(f"{served.base}/openapi.json")
    schema = (
        loaded.exclude(path_regex=r"/(up|down|events/stream)$")
        .exclude(method=["POST", "DELETE"], path="/blockade/{name}")
        .exclude(method=["POST", "PUT"], path_regex=r"/chaos$")
        .exclude(path_regex=r"^/blockade/\{name\}/(action|network_state|partitions|chaos)$")
    )
    return [result.ok() for result in schema.get_all_operations()]


def test_api_answers_as_its_document_says(served: Served) -> None:
    """Each operation, a few generated requests each: no 5xx, answers as documented."""
    found = operations(served)
    assert len(found) > 20
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for operation in found:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            params = case.path_parameters or {}
            if "name" in params and params["name"] != "x":
                params["name"] = served.project
            response = case.call_and_validate(
                base_url=served.base,
                headers={"Authorization": f"Bearer {served.token}"},
                # Valid by the schema is not enough to succeed: services must exist.
                excluded_checks=[positive_data_acceptance],
                timeout=60,
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises groups
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    print(f"schemathesis: answers by status {sorted(statuses.items())}")
    assert sum(statuses.values()) >= 3 * len(found)
    assert statuses.get(200, 0) + statuses.get(204, 0) >= len(found)
