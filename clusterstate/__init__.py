"""Reading the cluster: the one package through which cfha sees a CFEngine HA pair.

Both services and the lab read pacemaker, corosync, PostgreSQL and the hubs' own files only
through this package: the tools' argv lists, timeouts and exit-code policy (`tools`), the pure
parsers (`parsers`), time-zone handling, PostgreSQL access, host facts, and one typed model of
the cluster built once per read. It never changes anything.
"""
