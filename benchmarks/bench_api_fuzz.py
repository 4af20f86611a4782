"""Longer API fuzzing run: schemathesis against a real hub process, every role, many examples per operation.

    .venv/bin/python benchmarks/bench_api_fuzz.py [EXAMPLES]

The same harness as tests/hub/test_api_fuzz.py (tests/hub/fuzzing.py), with
EXAMPLES (default 50) valid and as many invalid requests per operation, each
sent with the token of every role. Prints the operations, the requests, the
time taken and every failure (a 5xx or a response outside the documented
schema); exits 1 when there is any.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hub.fuzzing import fuzz, fuzz_hub  # noqa: E402


def main(examples: int = 50) -> int:
    """Run the fuzzing and print its figures; the exit code says whether anything failed."""
    with tempfile.TemporaryDirectory(prefix="teachfab-fuzz-") as tmp, fuzz_hub(Path(tmp)) as (url, tokens):
        started = time.monotonic()
        stats = fuzz(url, tokens, examples)
        took = time.monotonic() - started
    print(f"{stats['operations']} operations, {examples} valid + {examples} invalid examples each, "
          f"{len(tokens)} roles: {stats['requests']} requests in {took:.0f} s, {len(stats['failures'])} failures")
    for failure in stats["failures"]:
        print("\n" + failure)
    return 1 if stats["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
