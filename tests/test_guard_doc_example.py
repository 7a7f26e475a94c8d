"""docs/guard.md's worked example, as documented: its policy file, put in a repository checkout, gives the
decisions of the doc's table. Run from a checkout under /tmp too: the example's `allow.paths: '/tmp/**'`
must not allow deleting or gutting the repository's own tests there (a glob reaching into the workspace
from outside it does not apply inside it)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml

from otel_cot.guard.check import Guard
from otel_cot.guard.policy import Policy

DOC = Path(__file__).resolve().parents[1] / "docs" / "guard.md"
EDIT_REMOVING_ASSERTS = {
    "file_path": "tests/test_parser.py",
    "old_string": "def test_empty():\n    assert parse('') == []\n    assert parse('  ') == []\n",
    "new_string": "def test_empty():\n    pass\n",
}


def _example() -> tuple[dict, list[tuple[str, dict, str, str]]]:
    """The worked example's policy (a mapping) and its table: (tool, arguments, decision, rule)."""
    text = DOC.read_text()
    section = text[text.index("## Worked example"):]
    policy = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        call, decision, rule = cells
        m = re.match(r"`(\w+) (\{.*\})`$", call)
        if m:
            tool, args = m.group(1), yaml.safe_load(m.group(2))
        elif call.startswith("`edit_file` removing `assert` lines"):
            tool, args = "edit_file", EDIT_REMOVING_ASSERTS
        else:
            raise AssertionError(f"a row of the table this test does not know: {line}")
        outcome = re.match(r"(blocked|asked|allowed)", decision).group(1)
        rows.append((tool, args, outcome, rule.strip("`")))
    assert len(rows) == 6, rows
    return policy, rows


@pytest.mark.parametrize("parent", ["/tmp", "/var/tmp"])
def test_the_worked_example_decides_as_its_table_says(parent):
    raw, rows = _example()
    asked = []
    raw["guard"]["ask"] = lambda request: asked.append(request.tool) or False  # the doc's prompt, answered "N"
    with tempfile.TemporaryDirectory(dir=parent, prefix="checkout-") as checkout:
        (Path(checkout) / "tests").mkdir()
        (Path(checkout) / "tests" / "test_parser.py").write_text(EDIT_REMOVING_ASSERTS["old_string"])
        guard = Guard(Policy.from_dict(raw, base_dir=checkout))
        assert guard.policy.workspace == checkout
        for tool, args, outcome, rule in rows:
            decision = guard.check(tool, args)
            got = {"blocked": "blocked", "asked-denied": "asked", "asked-allowed": "asked",
                   "allowed": "allowed"}[decision.outcome]
            assert got == outcome, f"{tool} {args}: {decision.outcome} by {decision.rule} (the doc says {outcome})"
            if rule != "—":
                assert decision.rule == rule, f"{tool} {args}: rule {decision.rule}, the doc says {rule}"
    assert asked == ["bash"]


@pytest.mark.parametrize("pattern,path,allowed", [
    ("/tmp/**", "/tmp/ws/tests/test_x.py", False),       # reaches into the workspace from outside
    ("/tmp/**", "/tmp/other/x", True),                   # outside the workspace: applies
    ("/tmp/ws/build/**", "/tmp/ws/build/out.o", True),   # rooted inside the workspace (./build/**)
    ("/tmp/ws/**", "/tmp/ws/tests/test_x.py", True),     # the whole workspace, said explicitly
    ("/tmp/w*/**", "/tmp/ws/tests/test_x.py", False),    # a wildcard above the workspace
    ("/tmp/ws/tests/test_x.py", "/tmp/ws/tests/test_x.py", True),
])
def test_a_path_glob_applies_inside_the_workspace_only_when_rooted_there(pattern, path, allowed):
    from otel_cot.guard.paths import allows

    assert allows(pattern, path, "/tmp/ws") is allowed
    assert allows(pattern, path, None) is True  # no workspace: the glob alone decides
