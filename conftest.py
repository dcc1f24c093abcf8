"""Test-suite wiring: shared fixtures live in plugin modules under tests/, and the closing summary
names the suites the issues ask to see counted."""

from __future__ import annotations

from typing import Any

pytest_plugins = ["tests.conftest_xvfb", "tests.conftest_tiny"]

_COUNTED = {
    "hostile corpus cases (each whole, in 50 random chunkings and char by char)": (
        "tests/test_parser_corpus.py::test_corpus_case"
    ),
    "parser property tests (hypothesis)": "tests/test_parser_properties.py::",
    "grammar property tests": "tests/test_grammar.py::",
    "fault suite tests": "tests/test_faults.py::",
    "end-to-end tests over real HTTP": "tests/test_e2e_local_server.py::",
}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    stats = terminalreporter.stats
    lines = []
    for label, prefix in _COUNTED.items():
        passed = sum(1 for r in stats.get("passed", []) if r.nodeid.startswith(prefix))
        failed = sum(1 for r in stats.get("failed", []) if r.nodeid.startswith(prefix))
        if passed or failed:
            lines.append(f"{label}: {passed} of {passed + failed} pass")
    if lines:
        terminalreporter.section("agentkit suites")
        for line in lines:
            terminalreporter.write_line(line)
