"""Shipped inside every exported task as tests/verdict.py: reward 1 when every fail-to-pass and
pass-to-pass test passed in the verifier's run. Standard library only; prints the reward.

    python3 verdict.py EXPECTED_JSON PYTEST_REPORT_JSON
"""

import sys

# Pure-Python json: its sources are checked before this runs, an extension module is not.
sys.modules["_json"] = None  # type: ignore[assignment]

import json  # noqa: E402


def reward(expected: dict, report: dict) -> int:
    statuses = {node_id: entry["status"] for node_id, entry in report.get("tests", {}).items()}
    required = list(expected["fail_to_pass"]) + list(expected["pass_to_pass"])
    return int(all(statuses.get(test) == "passed" for test in required))


def main() -> None:
    with open(sys.argv[1]) as handle:
        expected = json.load(handle)
    try:
        with open(sys.argv[2]) as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        report = {}
    value = reward(expected, report)
    missing = [
        t
        for t in expected["fail_to_pass"] + expected["pass_to_pass"]
        if report.get("tests", {}).get(t, {}).get("status") != "passed"
    ]
    print(f"{len(missing)} required tests did not pass" + (f", e.g. {missing[0]}" if missing else ""), file=sys.stderr)
    print(value)


if __name__ == "__main__":
    main()
