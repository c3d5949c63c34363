"""The userspace shaper: delay, jitter, loss, duplication, corruption and reordering on
kernels without `sch_netem`, from NFQUEUE sockets held inside each service's namespace.

The rest of Squall uses only `control`: `ensure_shaper`, `shaper_status`,
`stop_shaper`. The daemon itself runs as `python -m squall.faults.shaper`.
"""

from __future__ import annotations

from squall.faults.shaper.control import (
    ShaperError,
    ShaperStatus,
    ensure_shaper,
    shaper_status,
    stop_shaper,
)
from squall.faults.shaper.status import config_hash

__all__ = [
    "ShaperError",
    "ShaperStatus",
    "config_hash",
    "ensure_shaper",
    "shaper_status",
    "stop_shaper",
]
