"""Limits every front door enforces on what is logged (MLflow's, so both front doors agree)."""

import re

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The characters MLflow allows in keys: letters, digits, underscore, dash, period, space, slash, colon.
KEY = re.compile(r"^[\w\-. /:]+$")
