"""The Corosync row of the Pacemaker & corosync dashboard: each hub's own view of membership,
links and votes (local facts, one copy per hub)."""

from __future__ import annotations

from dashboards.fields import BAD, OK, WARN, Column, flag_map, matrix, merge, organize, state_map
from dashboards.kit import Q, Section, table_panel
from dashboards.queries import is_one, per_hub


def section() -> Section:
    link = state_map(
        "cfha_corosync_link_state",
        {
            "connected": ("connected", OK),
            "disconnected": ("DISCONNECTED", BAD),
            "disabled": ("disabled", WARN),
            "unknown": ("unknown", WARN),
        },
    )
    return Section(
        "Corosync",
        (
            table_panel(
                "Membership (each hub's view)",
                "Rows: the hub that looks; columns: the configured nodes. Red MISSING: that hub "
                "does not see the node in its membership, the two are cut off from each other "
                "(check the links, and corosync on the missing node).",
                [Q(per_hub("cfha_corosync_peer_member", ("node", "peer")))],
                transformations=[matrix("node", "peer"), organize({"node\\peer": "Seen by"})],
                mappings=[flag_map(("member", OK), ("MISSING", BAD))],
                w=8,
                h=6,
            ),
            table_panel(
                "Links",
                "Each knet link from each hub to each peer. Red DISCONNECTED: that path is "
                "down; with one link left the cluster has no redundancy, with none the nodes "
                "split (check the network and `corosync-cfgtool -s`; runbook "
                "CfHaCorosyncLinkFaulty).",
                [Q(is_one(per_hub("cfha_corosync_link_state", ("node", "link", "peer", "state"))))],
                transformations=[
                    organize(
                        {"node": "Hub", "link": "Link", "peer": "Peer", "state": "State"},
                        hide=("Time", "Value"),
                    )
                ],
                columns=[Column("State", mappings=[link])],
                w=10,
                h=6,
            ),
            table_panel(
                "Votes",
                "Votequorum per hub: votes present, expected, needed for quorum, and faulty "
                "links. Votes below Needed: that hub's partition has no quorum. Red faulty "
                "links: see Links.",
                [
                    Q(per_hub("cfha_corosync_total_votes")),
                    Q(per_hub("cfha_corosync_expected_votes")),
                    Q(per_hub("cfha_corosync_quorum_votes")),
                    Q(per_hub("cfha_corosync_faulty_links")),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "node": "Hub",
                            "Value #A": "Votes",
                            "Value #B": "Expected",
                            "Value #C": "Needed",
                            "Value #D": "Faulty links",
                        }
                    ),
                ],
                columns=[Column("Faulty links", steps=((None, OK), (1, BAD)))],
                w=6,
                h=6,
            ),
        ),
    )
