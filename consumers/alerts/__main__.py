"""`python -m consumers.alerts`: the alert worker as a process of its own (compose/, or beside `runstream up`)."""

from __future__ import annotations

import logging
import signal
import threading

from consumers.alerts.settings import AlertSettings
from consumers.alerts.worker import AlertWorker


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    AlertWorker(AlertSettings()).run(stop)


if __name__ == "__main__":
    main()
