"""Request and response shapes of /api/v1 (separate from Avro records and ClickHouse rows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MetricSummary(BaseModel):
    last: float
    min: float
    max: float
    count: int
    last_step: int


class Run(BaseModel):
    run_id: str
    experiment_id: str
    experiment_name: str | None
    name: str | None
    status: str | None
    start_time: str | None
    end_time: str | None
    parent_run_id: str | None
    user: str | None
    source: str | None = None
    description: str | None = None
    deleted: bool = False
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricSummary]
    inputs: list[DatasetInputModel] = Field(default_factory=list, description="only on GET /api/v1/runs/{run_id}")


class DatasetInputModel(BaseModel):
    name: str
    digest: str
    source_type: str | None = None
    source: str | None = None
    context: str | None = None
    schema_: str | None = Field(None, alias="schema")
    profile: str | None = None
    tags: list[tuple[str, str]] = Field(default_factory=list, description="the input's tags as [key, value] "
                                        "pairs, in the order logged (events before schema v7 have none)")


class ArtifactModel(BaseModel):
    path: str
    size: int
    digest: str
    media_type: str | None
    uri: str
    logged_at: str


class ArtifactList(BaseModel):
    run_id: str
    artifacts: list[ArtifactModel]


class Experiment(BaseModel):
    experiment_id: str
    name: str
    created_time: str | None
    run_count: int
    last_activity: str | None


class ExperimentList(BaseModel):
    experiments: list[Experiment]


class SearchRuns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_ids: list[str] | None = None
    experiment_names: list[str] | None = None
    max_results: int = Field(1000, ge=1, le=50_000)
    filter: str | None = Field(None, description="MLflow search syntax, plus OR, (), IS NULL, min/max/avg/count")
    order_by: list[str] | None = Field(None, max_length=20)
    page_token: str | None = None
    run_view: Literal["active", "deleted", "all"] = "active"

    @model_validator(mode="after")
    def _one_scope(self) -> SearchRuns:
        if not self.experiment_ids and not self.experiment_names:
            raise ValueError("give experiment_ids or experiment_names")
        return self


class RunList(BaseModel):
    runs: list[Run]
    next_page_token: str | None = None


class MetricPoint(BaseModel):
    step: int
    value: float
    timestamp: int | None


class MetricHistory(BaseModel):
    run_id: str
    key: str
    points: list[MetricPoint]


class Producer(BaseModel):
    user: str
    host: str


class HistoryEvent(BaseModel):
    seq: int
    event_id: str
    type: str
    event_time: str | None
    partition: int
    offset: int
    payload: dict[str, object]
    producer: Producer
    projected_at: str | None
    error: str | None = None


class RunHistory(BaseModel):
    run_id: str
    events: list[HistoryEvent]
    seq_gaps: list[list[int]] = Field(description="missing [first, last] seq ranges: events lost upstream")
    next_page_token: str | None = None


class LeaderboardEntry(BaseModel):
    rank: int
    run_id: str
    name: str | None
    status: str | None
    value: float
    params: dict[str, str]


class Leaderboard(BaseModel):
    experiment_id: str
    metric: str
    agg: str
    order: str
    runs: list[LeaderboardEntry]


class Dimension(BaseModel):
    param: str
    type: Literal["numeric", "categorical"]


class ParallelRun(BaseModel):
    run_id: str
    name: str | None
    params: dict[str, float | str | None]
    metric: float | None


class ParallelCoordinates(BaseModel):
    experiment_id: str
    metric: str
    agg: str
    dimensions: list[Dimension]
    runs: list[ParallelRun]


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[str] = Field(min_length=1, max_length=100)
    metric_keys: list[str] | None = Field(None, max_length=50)
    max_points: int = Field(500, ge=2, le=10_000)


class ComparedParam(BaseModel):
    key: str
    values: dict[str, str | None]
    differs: bool


class CurvePoint(BaseModel):
    step: int
    value: float


class Comparison(BaseModel):
    runs: list[Run]
    params: list[ComparedParam]
    curves: dict[str, dict[str, list[CurvePoint]]]
