"""API fuzzing: schemathesis against the hub's OpenAPI, a real hub process and database, every role's token.

Issue 17 asks for 0 server errors (5xx) and 0 responses that violate the
documented schema. Generated requests, valid and invalid, go out with the
roles' tokens in turn and the checks run on each answer. The examples per
operation are bounded here (:data:`EXAMPLES`) and each case uses one role,
to keep the test short; benchmarks/bench_api_fuzz.py sends every case with
every role's token and many more examples.
"""

from __future__ import annotations

import pytest

from tests.hub.fuzzing import fuzz, fuzz_hub

EXAMPLES = 2


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_no_server_errors_and_no_schema_violations_for_any_role(tmp_path):
    with fuzz_hub(tmp_path) as (url, tokens):
        stats = fuzz(url, tokens, EXAMPLES, every_role=False)
    print(f"fuzzed {stats['operations']} operations with {stats['requests']} requests: {stats['by_role']}")
    assert stats["operations"] > 80 and min(stats["by_role"].values()) > stats["operations"] // 2
    assert stats["failures"] == [], "\n\n".join(stats["failures"])
