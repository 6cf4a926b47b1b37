"""The runstream SDK: log runs from training code as Avro events on Kafka."""

from producer.client import Tracker
from producer.run import ActiveRun
from producer.settings import TrackerSettings

__all__ = ["ActiveRun", "Tracker", "TrackerSettings"]
