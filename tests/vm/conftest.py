"""The VM lane: `guest/` holds tests that need a kernel with `sch_netem`.

They run only inside the guest that `test_netem_lane.py` boots (it sets
`SQUALL_VM_GUEST=1`); a host run never collects them directly.
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("SQUALL_VM_GUEST") == "1" else ["guest"]
