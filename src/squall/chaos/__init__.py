"""`squall chaos`: a seeded schedule of faults while the system under test runs.

`plan` makes the timeline (pure), `runner` runs it against a session, `control`
finds, starts and stops a cluster's run from outside; `python -m squall.chaos` is a
detached run.
"""
