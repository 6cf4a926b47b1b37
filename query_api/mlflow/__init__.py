"""MLflow-compatible front door: the tracking REST API and the artifact proxy over the event log."""
