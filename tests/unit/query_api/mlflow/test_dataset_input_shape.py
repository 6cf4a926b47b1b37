"""What runs/get shows of a dataset input: every tag as logged; older inputs show their context tag only."""

from __future__ import annotations

import re

import pytest

from query_api.mlflow import protocol as p
from query_api.mlflow import validation as v

REQUEST = [{"dataset": {"name": "dataset", "digest": "f0f3e026", "source_type": "local", "source": "{}"},
            "tags": [{"key": "foo", "value": "baz"}, {"key": "mlflow.data.context", "value": "train"}]}]


def test_every_input_tag_is_kept_in_the_order_sent() -> None:
    (checked,) = v.check_datasets(REQUEST)
    assert checked.tags == (("foo", "baz"), ("mlflow.data.context", "train"))
    assert checked.context == "train"


def test_the_shape_shows_every_tag_or_the_context_of_an_older_input() -> None:
    row = {"name": "d", "digest": "x", "context": "train", "tags": [("foo", "baz"), ("mlflow.data.context", "train")]}
    assert p.dataset_input_shape(row)["tags"] == [{"key": "foo", "value": "baz"},
                                                   {"key": "mlflow.data.context", "value": "train"}]
    older = {"name": "d", "digest": "x", "context": "train", "tags": []}
    assert p.dataset_input_shape(older)["tags"] == [{"key": "mlflow.data.context", "value": "train"}]


@pytest.mark.parametrize(("tags", "message"), [
    ("5", """Invalid value "5" for parameter 'datasets[0].tags'"""),
    ([{"key": "k"}], "Missing value for required parameter 'datasets[0].tags[0].value'"),
    ([{"key": "k", "value": "v" * 501}], "exceeds the maximum length of 500"),
])
def test_bad_input_tags_are_refused_in_mlflows_words(tags: object, message: str) -> None:
    with pytest.raises(p.MlflowError, match=re.escape(message)):
        v.check_datasets([{**REQUEST[0], "tags": tags}])
