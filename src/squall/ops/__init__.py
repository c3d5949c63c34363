"""The operations layer: one typed request per change, run one way for every front end.

requests   what a user can ask (`ShapeRequest`, `PartitionRequest`, ...)
fields     the fields users fill in, declared once (front ends derive from them)
parsing    user strings ("100ms", groups) -> faults as data
opening    which cluster, which backend: `Where` -> `Session`
operations `Operations.run(request) -> Result`, and the reads
results    `Result`: the message, the plan, what changed
"""
