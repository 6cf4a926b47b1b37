"""GET /metrics in Prometheus' text format: projection throughput, lag per partition, DLQ, insert latency."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from query_api import health
from query_api.queries import log
from query_api.state import AppState


class RunstreamCollector(Collector):
    """Reads the state on every scrape; nothing is registered globally."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        ch = self.state.clickhouse
        positions = log.positions(ch)
        lag = GaugeMetricFamily("runstream_projector_lag", "Events in the log not yet projected", labels=["partition"])
        offsets = GaugeMetricFamily("runstream_projector_position", "Last projected offset", labels=["partition"])
        try:
            highs = health.high_watermarks(self.state.kafka_admin, self.state.store.topic,
                                              self.state.api.health_timeout_s)
        except Exception:  # Kafka unreachable: lag is unknown, the rest still reports
            highs = {}
        for partition, high in sorted(highs.items()):
            lag.add_metric([str(partition)], health.projector_lag({partition: high}, positions))
        for partition, offset in sorted(positions.items()):
            offsets.add_metric([str(partition)], offset)
        yield lag
        yield offsets
        events, dead = log.totals(ch)
        yield CounterMetricFamily("runstream_log_events", "Messages projected into ClickHouse", value=events)
        yield CounterMetricFamily("runstream_dead_letters", "Messages sent to the dead-letter topic", value=dead)
        runs_with_gaps, missing = log.seq_gaps(ch)
        yield GaugeMetricFamily("runstream_runs_with_seq_gaps", "Runs whose seq numbers have holes",
                                value=runs_with_gaps)
        yield GaugeMetricFamily("runstream_missing_events", "Events missing from seq holes, all runs",
                                value=missing)
        projector = self.state.projector
        if projector is not None:
            stats = projector.projector.stats
            events_rate, points_rate = stats.rates()
            yield CounterMetricFamily("runstream_projected_events", "Events projected by this process",
                                      value=stats.events)
            yield CounterMetricFamily("runstream_projected_points", "Metric points projected by this process",
                                      value=stats.points)
            yield CounterMetricFamily("runstream_duplicate_events", "Re-delivered events counted once",
                                      value=stats.duplicates)
            yield GaugeMetricFamily("runstream_projected_events_per_second", "Over the last 30 s",
                                    value=events_rate)
            yield GaugeMetricFamily("runstream_projected_points_per_second", "Over the last 30 s",
                                    value=points_rate)
            yield GaugeMetricFamily("runstream_projector_up", "1 while the projector thread runs",
                                    value=1 if projector.alive else 0)
            yield GaugeMetricFamily("runstream_projector_stalled_partitions",
                                    "Partitions whose next batch cannot be read (skipped after a few tries)",
                                    value=len(projector.projector.stalls.stalled))
            yield CounterMetricFamily("runstream_projector_skipped_messages",
                                      "Offsets the consumer could not read, skipped into dead letters",
                                      value=stats.skipped_messages)
            yield from stats.insert_latency.collect()
            for histogram in (stats.waited, stats.written, stats.visible):
                yield from histogram.collect()
        remembered = self.state.answers
        if remembered is not None:
            looked_up = CounterMetricFamily("runstream_remembered_answers",
                                            "Answers looked up in memory: found at the current data version or not",
                                            labels=["result"])
            looked_up.add_metric(["hit"], remembered.hits)
            looked_up.add_metric(["miss"], remembered.misses)
            yield looked_up
        run_states = self.state.run_states
        if run_states is not None:
            answers = CounterMetricFamily("runstream_run_state_answers",
                                          "Questions answered over the in-memory run state or by SQL",
                                          labels=["question", "path"])
            for (question, path), count in sorted(run_states.answer_counts().items()):
                answers.add_metric([question, path], count)
            yield answers
            yield CounterMetricFamily("runstream_run_state_loads", "Experiments' run states loaded whole",
                                      value=run_states.stats.loads)
            yield CounterMetricFamily("runstream_run_state_refreshes", "Run states refreshed with changed runs",
                                      value=run_states.stats.refreshes)


def render(state: AppState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunstreamCollector(state))
    return generate_latest(registry)
