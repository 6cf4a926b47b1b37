"""Request and response shapes of the grouped analytics routes (/api/v1/groups/…)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GroupKey = dict[str, str | None]


class GroupScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_ids: list[str] = Field(min_length=1, max_length=100)
    filter: str | None = Field(None, description="the search language, as in POST /api/v1/runs/search")
    group_by: list[str] = Field(max_length=10, description='keys such as "params.lr", "tags.team", '
                                '"attributes.status"; runs with equal values form a group (an empty list: one group)')


class GroupCurvesRequest(GroupScope):
    metric_keys: list[str] = Field(min_length=1, max_length=20)
    max_points: int = Field(500, ge=2, le=10_000, description="at most this many step buckets per curve")
    step_min: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    step_max: int | None = Field(None, ge=-(2**63), le=2**63 - 1)


class GroupSeries(BaseModel):
    """Parallel arrays, one entry per step bucket holding at least one point of the group's runs."""

    step: list[int] = Field(description="the first step of the bucket (among every run of the request)")
    mean: list[float | None]
    std: list[float | None] = Field(description="sample standard deviation (n - 1) across runs; null for one run")
    min: list[float | None]
    max: list[float | None]
    median: list[float | None]
    count: list[int] = Field(description="runs with a non-NaN point in the bucket")
    nan_count: list[int] = Field(description="NaN points in the bucket, left out of the statistics")


class GroupCurves(BaseModel):
    key: GroupKey
    run_ids: list[str]
    metrics: dict[str, GroupSeries]


class GroupCurvesResponse(BaseModel):
    groups: list[GroupCurves]


class GroupLeaderboardRequest(GroupScope):
    metric_key: str = Field(min_length=1, max_length=250)
    summary: Literal["last", "min", "max"] = "last"
    statistic: Literal["mean", "median"] = "mean"
    order: Literal["asc", "desc"] = "asc"


class GroupRank(BaseModel):
    key: GroupKey
    mean: float | None
    median: float | None
    std: float | None = Field(description="sample standard deviation (n - 1) of the runs' summaries; null for one")
    min: float | None
    max: float | None
    count: int = Field(description="runs whose summary is a number")
    nan_count: int = Field(description="runs whose summary is NaN (left out)")
    run_ids: list[str] = Field(description="every run of the group")


class GroupLeaderboardResponse(BaseModel):
    groups: list[GroupRank]
