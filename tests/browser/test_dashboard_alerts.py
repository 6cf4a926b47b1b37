"""Alert rules and firings in the dashboard: a rule made in the page fires, and the page shows the delivery."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consumers.alerts import AlertSettings, AlertWorkerThread
from tests.browser.conftest import Dashboard, shot
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_a_rule_made_in_the_page_fires_and_shows_its_delivery(page: Any, dashboard: Dashboard) -> None:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker = AlertWorkerThread(AlertSettings(
        kafka_bootstrap_servers=dashboard.settings.store.kafka_bootstrap_servers, topic=dashboard.settings.store.topic,
        alerts_consumer_group=f"{dashboard.settings.store.consumer_group}-alerts", alerts_stall_check_s=0.5)).start()
    try:
        page.goto(dashboard.url + "/#/alerts")
        page.locator(".rules-table").wait_for()
        page.fill(".rule-form input[name=name]", "loss went bad")
        page.select_option(".rule-form select[name=condition]", "nan")
        page.fill(".rule-form input[name=metric_key]", "loss")
        page.fill(".rule-form input[name=webhook_url]", f"http://127.0.0.1:{server.server_address[1]}/hook")
        page.click(".rule-form button[type=submit]")
        row = page.locator(".rules-table tr", has_text="loss went bad")
        row.wait_for()
        assert "loss becomes NaN" in row.inner_text()
        with dashboard.tracker() as tracker, tracker.start_run("browser-alerts", "nan-run") as run:
            run.log_metrics({"loss": math.nan}, step=3)
        wait_for(lambda: received, 60, what="the webhook call")
        assert received[0]["run_id"] == run.run_id and "loss became nan" in received[0]["text"]
        dashboard.wait_projected()
        page.reload()
        firing = page.locator(f".firings-table tr[data-firing-id='{received[0]['firing_id']}']")
        firing.wait_for()
        assert "204 after 1 try" in firing.inner_text() and "loss went bad" in firing.inner_text()
        row.locator(".rule-history-btn").click()
        page.locator(".history-table tr[data-type='AlertRuleCreated']").wait_for()
        shot(page, "alerts")
        row.locator(".rule-delete").click()
        page.wait_for_function("() => !document.querySelector('.rules-table').innerText.includes('loss went bad')")
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()
