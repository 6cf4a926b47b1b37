"""Request and response shapes of /api/v1/alerts (rules and firings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Condition = Literal["threshold", "nan", "run_failed", "stalled", "new_best"]


class AlertRuleSpec(BaseModel):
    """A rule: which condition, over which experiment (null: every one), delivered to which webhook."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=250)
    condition: Condition = Field(description="threshold: a metric point crosses `threshold` by `op`; nan: a point "
                                 "is NaN or ±inf (of `metric_key`, or any key when null); run_failed: a run ends "
                                 "FAILED or KILLED; stalled: a RUNNING run logs nothing for `minutes`; new_best: "
                                 "a point beats the experiment's best so far (`op` min or max)")
    webhook_url: str = Field(pattern=r"^https?://", max_length=2000)
    experiment_id: str | None = None
    metric_key: str | None = Field(None, min_length=1, max_length=250)
    op: Literal[">", ">=", "<", "<=", "min", "max"] | None = None
    threshold: float | None = None
    minutes: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _fields_of_the_condition(self) -> AlertRuleSpec:
        c = self.condition
        if c == "threshold" and (self.metric_key is None or self.op not in (">", ">=", "<", "<=")
                                 or self.threshold is None):
            raise ValueError("a threshold rule needs metric_key, op (> >= < <=) and threshold")
        if c == "new_best" and (self.metric_key is None or self.op not in ("min", "max")):
            raise ValueError("a new_best rule needs metric_key and op (min or max)")
        if c == "stalled" and self.minutes is None:
            raise ValueError("a stalled rule needs minutes")
        return self


class AlertRule(AlertRuleSpec):
    model_config = ConfigDict(extra="ignore")

    rule_id: str
    created_time: str | None = None
    updated_time: str | None = None


class AlertRuleList(BaseModel):
    rules: list[AlertRule]


class Delivery(BaseModel):
    status: int
    attempts: int
    delivered_time: str | None


class AlertFiring(BaseModel):
    firing_id: str
    rule_id: str
    run_id: str
    experiment_id: str
    condition: str
    text: str
    value: float | None
    metric_key: str | None
    step: int | None
    log_position: dict[str, int]
    fired_time: str | None
    delivery: Delivery | None


class AlertFiringList(BaseModel):
    firings: list[AlertFiring]
