"""Linux utilities that neither the fault layer nor a backend owns, so both use them.

- `commands`: the one runner of kernel commands (`ip`, `tc`, `iptables*`, ...) and its
  one error, `KernelCommandFailed`;
- `netlink`: netlink framing (headers, attributes, dumps) for rtnetlink and nfqueue;
- `netns`: entering a network namespace from a thread, and always coming home;
- `procs`: what /proc says about processes (command line, zombie, namespace).

Nothing here imports from `squall.faults` or `squall.runtime`.
"""
