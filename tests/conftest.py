"""Shared by unit and integration tests."""

import os
import tempfile

# The SDK's spool defaults to ~/.cache/runstream/spool; tests must not read or leave events there.
os.environ.setdefault("RUNSTREAM_SPOOL_DIR", tempfile.mkdtemp(prefix="runstream-test-spool-"))
