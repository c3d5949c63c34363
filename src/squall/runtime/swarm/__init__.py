"""Clusters across several Docker Engines, joined by a Swarm's overlay networks.

`engines` makes one `DockerEngine` per host of `x-squall: hosts`; `kernel` proves
whether an engine runs on this machine's kernel (only then may Squall enter its
containers' namespaces directly); `report` is what `squall hosts check` shows;
`swarm` makes or joins the hosts into one Swarm; `backend` runs a cluster on them.
"""
