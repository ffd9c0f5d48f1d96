"""alerts/alertmanager.example.yml, rendered for a test Alertmanager on 127.0.0.1.

`for_loopback(config, sink_url, token_file)` keeps the routes, matchers and inhibit rules of the
shipped configuration exactly and changes only what cannot work on a test machine:
- every receiver's webhooks post to the sink at `<sink_url>/<receiver name>` (one URL per
  receiver, the remediator's two hubs become one), TLS settings dropped (the sink is plain
  HTTP), the bearer `credentials_file` pointed at a test token;
- group_wait / group_interval shrunk to `wait` / `interval` (and repeat_interval kept at least
  as long as a test), so a notification leaves within about a second.
`without_inhibit_source(config, alertname)` drops the inhibit rules whose source is that alert
(how a deployment that runs without fencing on purpose uses the example; see alerts/README.md).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

# The lab runs from a source tree: the shipped example sits beside the package.
EXAMPLE = Path(__file__).resolve().parents[2] / "alerts" / "alertmanager.example.yml"


def load_example() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return config


def _retime(route: dict[str, Any], wait: str, interval: str) -> None:
    if "group_wait" in route or "routes" in route:
        route["group_wait"] = wait
    if "group_interval" in route or "routes" in route:
        route["group_interval"] = interval
    if "repeat_interval" in route or "routes" in route:
        route["repeat_interval"] = "1h"
    for child in route.get("routes") or []:
        _retime(child, wait, interval)


def for_loopback(
    config: dict[str, Any],
    sink_url: str,
    token_file: Path,
    *,
    wait: str = "1s",
    interval: str = "1s",
) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for receiver in out.get("receivers") or []:
        hooks = receiver.get("webhook_configs")
        if not hooks:
            continue
        hook = copy.deepcopy(hooks[0])
        hook["url"] = f"{sink_url.rstrip('/')}/{receiver['name']}"
        http_config = hook.get("http_config")
        if http_config is not None:
            http_config.pop("tls_config", None)
            authorization = http_config.get("authorization")
            if authorization is not None and "credentials_file" in authorization:
                authorization["credentials_file"] = str(token_file)
        receiver["webhook_configs"] = [hook]
    _retime(out["route"], wait, interval)
    return out


def without_inhibit_source(config: dict[str, Any], alertname: str) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["inhibit_rules"] = [
        rule
        for rule in out.get("inhibit_rules") or []
        if f'alertname="{alertname}"' not in rule.get("source_matchers", [])
    ]
    return out


def dump(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
