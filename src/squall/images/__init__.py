"""Local base images, built from Debian packages on this host without any registry.

- `squall/busybox:latest`: `FROM scratch` plus Debian's static busybox and its applets
  (sh, nc, ping, wget, httpd, ip, ...). Built in seconds.
- `squall/debian:bookworm`: `mmdebstrap` of Debian bookworm with python3, socat, ncat,
  sqlite3, OpenBSD's nc, ping, iproute2 and procps, imported into the engine (20-60 s
  with a reachable Debian mirror).

Build them with `python -m squall.images` (or `squall images build`). Images that already
exist are kept unless `force` is given; every image carries the label
`io.squall.image=base`.
"""

from squall.images._build import (
    BASE_LABEL,
    BUSYBOX_IMAGE,
    DEBIAN_IMAGE,
    DEBIAN_PACKAGES,
    LOCAL_IMAGES,
    build_busybox_image,
    build_debian_image,
    build_local_images,
)

__all__ = [
    "BASE_LABEL",
    "BUSYBOX_IMAGE",
    "DEBIAN_IMAGE",
    "DEBIAN_PACKAGES",
    "LOCAL_IMAGES",
    "build_busybox_image",
    "build_debian_image",
    "build_local_images",
]
