"""The remediator's HTTP API as the product stack reaches it: 127.0.0.1, with the bearer token."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from lab.product.promstack import http_get_bytes


class RemediatorClient:
    """The remediator's HTTP API on 127.0.0.1, with the bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._token = token

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.base_url}{path}"  # base_url: a 127.0.0.1 forward (checked when sent)
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        req.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        return json.loads(http_get_bytes(req, timeout))

    def healthy(self) -> bool:
        return bool(json.loads(http_get_bytes(f"{self.base_url}/healthz", 5)).get("status") == "ok")

    def jobs(self, limit: int = 200) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.request("GET", f"/api/jobs?limit={limit}")["jobs"]
        return answer

    def job(self, job_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", f"/api/jobs/{job_id}")
        return answer

    def post_webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/webhook", payload)
        return answer
