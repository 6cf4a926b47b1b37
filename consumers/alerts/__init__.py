"""The alert worker: another consumer of the log. Rules are events; so is each firing and its delivery."""

from consumers.alerts.settings import AlertSettings
from consumers.alerts.worker import AlertWorker, AlertWorkerProcess, AlertWorkerThread, HostedAlerts, start_alert_worker

__all__ = ["AlertSettings", "AlertWorker", "AlertWorkerProcess", "AlertWorkerThread", "HostedAlerts",
           "start_alert_worker"]
