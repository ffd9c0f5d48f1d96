"""The lab's parts that need no live cluster, for tests and benchmarks (bench/ imports them).

`pgpair`: a PostgreSQL 15 primary and streaming standby on loopback. `cibstates`: offline
pacemaker states of the CFEngine pair, made with the real tools. `clusterstates`: hand-made states
in `clusterstate`'s model. `hubdata`: a seeded cfdb and the HA files. `pacemaker_standin`:
pacemaker stood in for around the remediator's resync (a fake, where pacemaker cannot run).
"""
