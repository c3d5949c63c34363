"""Clusters across several Docker Engines, joined by a Swarm's overlay networks.

`engines` makes one `DockerEngine` per host of `x-squall: hosts`; `report` is what
`squall hosts check` shows; `record` keeps the hosts in the state directory;
`swarm` makes or joins the hosts into one Swarm; `backend` runs a cluster on them.
"""
