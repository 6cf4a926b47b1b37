"""The difference of two as-of states of a run."""

from query_api.queries.diff import diff_states


def state(**kw: object) -> dict:
    base = {"name": "r", "status": "RUNNING", "deleted": False, "params": {}, "tags": {}, "metrics": {}}
    return {**base, **kw}


def test_changes_between_two_states() -> None:
    before = state(params={"lr": "0.1"}, tags={"a": "1", "b": "2"}, metrics={"loss": {"count": 10}})
    after = state(status="FINISHED", params={"lr": "0.1", "bs": "64"}, tags={"a": "9"},
                  metrics={"loss": {"count": 25}, "acc": {"count": 5}})
    assert diff_states(before, after) == {
        "existed_before": True,
        "attributes": {"status": {"from": "RUNNING", "to": "FINISHED"}},
        "tags_set": {"a": "9"}, "tags_removed": ["b"], "params_added": {"bs": "64"},
        "metric_keys_added": ["acc"], "points_logged": {"acc": 5, "loss": 15},
    }


def test_a_run_that_did_not_exist_yet() -> None:
    change = diff_states(None, state(params={"lr": "1"}))
    assert not change["existed_before"] and change["params_added"] == {"lr": "1"}
    assert change["attributes"] == {"name": {"from": None, "to": "r"}, "status": {"from": None, "to": "RUNNING"}}


def test_no_change() -> None:
    s = state(tags={"a": "1"})
    change = diff_states(s, s)
    assert change["tags_set"] == {} and change["attributes"] == {} and change["points_logged"] == {}
