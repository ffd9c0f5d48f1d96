"""The two-hub CFEngine HA lab: a real corosync + pacemaker cluster in network namespaces."""
