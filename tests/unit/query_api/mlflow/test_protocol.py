"""MLflow's checks, limits and shapes, without a server."""

from __future__ import annotations

import math

import pytest

from query_api.mlflow import protocol as p


@pytest.mark.parametrize("key", ["loss", "val/acc", "a b", "x:y", "lr-1.0_z"])
def test_keys_mlflow_accepts(key: str) -> None:
    assert p.check_key("Param", key, "key") == key


@pytest.mark.parametrize(("key", "fragment"), [
    ("", "Missing value for required parameter 'params\\[0\\].key'"),
    (None, "Missing value for required parameter 'params\\[0\\].key'"),
    ("semi;colon", "Names may only contain"),
    ("../up", "must not resolve to other names"),
    ("a//b", "must not resolve to other names"),
    ("/abs", "must not resolve to other names"),
    (".", "must not resolve to other names"),
    ("k" * 251, "exceeds the maximum length of 250"),
])
def test_keys_mlflow_refuses(key: str | None, fragment: str) -> None:
    with pytest.raises(p.MlflowError, match=fragment.replace("(", r"\(")) as info:
        p.check_key("Param", key, "params[0].key")
    assert info.value.status_code == 400 and info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_value_limits_are_mlflows() -> None:
    assert p.check_value("Param", "v" * 6000, p.MAX_PARAM_VAL_LENGTH, "value") == "v" * 6000
    with pytest.raises(p.MlflowError, match="'Param value' exceeds the maximum length of 6000"):
        p.check_value("Param", "v" * 6001, p.MAX_PARAM_VAL_LENGTH, "value")
    with pytest.raises(p.MlflowError, match="Missing value for required parameter 'value'"):
        p.check_value("Tag", None, p.MAX_TAG_VAL_LENGTH, "value")
    assert p.check_value("Param", 3, 10, "value") == "3"


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (0.5, 0.5), ("NaN", math.nan), ("Infinity", math.inf),
                                                 ("-Infinity", -math.inf)])
def test_metric_values_as_proto_json_carries_them(value: object, expected: float) -> None:
    got = p.check_metric_value(value, "loss", "value")
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize("value", [None, "0.5", True, [1], {"a": 1}])
def test_metric_values_that_are_not_doubles(value: object) -> None:
    with pytest.raises(p.MlflowError):
        p.check_metric_value(value, "loss", "value")


@pytest.mark.parametrize(("value", "expected"), [(5, 5), ("5", 5), (5.0, 5), ("-3", -3), (2**63 - 1, 2**63 - 1)])
def test_int64_as_number_or_decimal_string(value: object, expected: int) -> None:
    assert p.check_int64(value, "step") == expected


@pytest.mark.parametrize("value", ["five", 2**63, 1.5, True, [1]])
def test_int64_refused(value: object) -> None:
    with pytest.raises(p.MlflowError, match="step"):
        p.check_int64(value, "step")


def test_int64_default_and_minimum() -> None:
    assert p.check_int64(None, "step", default=0) == 0
    with pytest.raises(p.MlflowError, match="Missing value"):
        p.check_int64(None, "timestamp")
    with pytest.raises(p.MlflowError):
        p.check_int64(-1, "timestamp", minimum=0)


@pytest.mark.parametrize(("counts", "fragment"), [
    ((1001, 0, 0), "at most 1000 metrics. Got 1001 metrics"),
    ((0, 101, 0), "at most 100 params"),
    ((0, 0, 101), "at most 100 tags"),
    ((950, 30, 30), "at most 1000 metrics, params, and tags"),
])
def test_batch_limits(counts: tuple[int, int, int], fragment: str) -> None:
    with pytest.raises(p.MlflowError, match=fragment):
        p.check_batch_limits(*counts)


def test_batch_limits_at_the_limit_pass() -> None:
    p.check_batch_limits(1000, 0, 0)
    p.check_batch_limits(900, 50, 50)


def test_ids() -> None:
    assert p.check_run_id("a" * 32) == "a" * 32
    assert p.check_experiment_id(0) == "0" and p.check_experiment_id("123456789012345678") == "123456789012345678"
    with pytest.raises(p.MlflowError, match="Invalid value"):
        p.check_run_id("A" * 32)
    with pytest.raises(p.MlflowError, match="Invalid experiment ID: 'x; drop'"):
        p.check_experiment_id("x; drop")
    with pytest.raises(p.MlflowError, match="Missing value"):
        p.check_experiment_id("")


def test_the_param_change_message_is_mlflows() -> None:
    one = p.param_change_message("r1", [("lr", "0.1", "0.2")])
    assert one == ("Changing param values is not allowed. Param with key='lr' was already logged with "
                   "value='0.1' for run ID='r1'. Attempted logging new value '0.2'.")
    assert "Params were already logged=" in p.param_change_message("r1", [("a", "1", "2"), ("b", "1", "2")])


def test_max_results() -> None:
    assert p.check_max_results(None, 50000) == 1000
    assert p.check_max_results("10", 50000) == 10
    with pytest.raises(p.MlflowError, match="at most 50000"):
        p.check_max_results(50001, 50000)
    with pytest.raises(p.MlflowError, match="positive"):
        p.check_max_results(0, 50000)


def test_run_shape_leaves_unset_fields_out() -> None:
    run = {"run_id": "a" * 32, "experiment_id": "7", "name": "r", "status": "RUNNING", "user": "ana",
           "start_ms": 1000, "end_ms": None, "deleted": False, "params": {"b": "2", "a": "1"}, "tags": {}}
    shaped = p.run_shape(run, {"loss": (0.5, 1234, 3)}, [{"name": "d", "digest": "x", "context": "training"}],
                         "mlflow-artifacts:/7/" + "a" * 32 + "/artifacts")
    assert shaped["info"] == {"run_id": "a" * 32, "run_uuid": "a" * 32, "run_name": "r", "experiment_id": "7",
                              "user_id": "ana", "status": "RUNNING", "start_time": 1000,
                              "artifact_uri": "mlflow-artifacts:/7/" + "a" * 32 + "/artifacts",
                              "lifecycle_stage": "active"}
    assert shaped["data"] == {"metrics": [{"key": "loss", "value": 0.5, "timestamp": 1234, "step": 3}],
                              "params": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}
    assert shaped["inputs"] == {"dataset_inputs": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                                                    "dataset": {"name": "d", "digest": "x"}}]}
    deleted = p.run_shape(run, {}, [], "u", experiment_deleted=True)
    assert deleted["info"]["lifecycle_stage"] == "deleted" and deleted["inputs"] == {}


def test_experiment_shape() -> None:
    shaped = p.experiment_shape({"experiment_id": "5", "name": "e", "deleted": True, "creation_time": 10},
                                {"b": "2", "a": "1"})
    assert shaped == {"experiment_id": "5", "name": "e", "artifact_location": "mlflow-artifacts:/5",
                      "lifecycle_stage": "deleted", "creation_time": 10,
                      "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}
