"""Faults on a kernel that is not this machine's, through an agent on its engine.

The agent is a container on that host's engine (`pid: host`, `network: host`) that
runs `python3 -m squall.faults.agent`: one request as JSON on stdin, one answer as
JSON on stdout, through the engine's own exec API (no port, no credential of its
own). `codec` carries the fault data, `serve` answers a request with the same kernel
code Squall runs here, `access` is what the fault engine calls: the kernel here
(`LocalKernel`) or a kernel through an agent (`AgentKernel`).
"""
