"""Delivering a firing to its webhook: a JSON body with a `text` field (what Slack-compatible receivers show),
an Idempotency-Key header equal to the firing id, retried with exponential backoff."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import Any

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from consumers.alerts.evaluate import Firing


class DeliveryError(Exception):
    """The webhook did not take the firing (refused, unreachable, or not a 2xx) after every try."""


def body(firing: Firing) -> dict[str, Any]:
    value = firing.value
    shown = value if value is None or math.isfinite(value) else str(value)  # JSON has no NaN or inf
    return {
        "text": firing.text, "firing_id": firing.firing_id, "rule_id": firing.rule.rule_id,
        "rule_name": firing.rule.name, "condition": firing.condition, "run_id": firing.run_id,
        "experiment_id": firing.experiment_id, "metric_key": firing.metric_key, "step": firing.step, "value": shown,
        "log_position": {"partition": firing.partition, "offset": firing.offset},
    }


def _post(url: str, payload: bytes, key: str, timeout_s: float) -> int:
    request = urllib.request.Request(url, payload, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "runstream-alerts"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{url} answered {exc.code}") from exc
    except OSError as exc:
        raise DeliveryError(f"{url}: {exc}") from exc


def deliver(firing: Firing, *, attempts: int, timeout_s: float, max_wait_s: float = 8.0) -> tuple[int, int]:
    """POST the firing until a 2xx answers: (status, tries). Raises DeliveryError when every try failed."""
    payload = json.dumps(body(firing)).encode()
    retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.2, max=max_wait_s),
                        retry=retry_if_exception_type(DeliveryError), reraise=False)
    try:
        for attempt in retrying:
            with attempt:
                status = _post(firing.rule.webhook_url, payload, firing.firing_id, timeout_s)
            if not attempt.retry_state.outcome or not attempt.retry_state.outcome.failed:
                return status, attempt.retry_state.attempt_number
    except RetryError as exc:
        raise DeliveryError(f"{firing.rule.webhook_url}: {attempts} tries failed: "
                            f"{exc.last_attempt.exception()}") from exc
    raise DeliveryError("no try was made")
