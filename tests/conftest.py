"""Shared by unit and integration tests."""

import os
import tempfile

# The SDK's spool defaults to ~/.cache/runstream/spool; tests must not read or leave events there.
os.environ.setdefault("RUNSTREAM_SPOOL_DIR", tempfile.mkdtemp(prefix="runstream-test-spool-"))
# Without tokens the API answers only allowed Host names; Starlette's TestClient sends "testserver".
os.environ.setdefault("RUNSTREAM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
