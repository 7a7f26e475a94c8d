"""The guard policy as data: the YAML file OTEL_COT_GUARD_CONFIG names, the mapping form, bad values."""

from __future__ import annotations

import pytest

from otel_cot.config import ConfigurationError
from otel_cot.detectors.base import Finding
from otel_cot.guard import load_policy, policy_from_env


def _finding(category: str, severity: str, detector: str = "cot.x") -> Finding:
    return Finding(detector, "1", category, severity, 0.5, "why")  # type: ignore[arg-type]


def test_yaml_file_from_the_environment(tmp_path):
    (tmp_path / "guard.yaml").write_text(
        "guard:\n"
        "  workspace: repo\n"
        "  on_error: closed\n"
        "  rules:\n"
        "    - {name: force, category: destructive_action, min_severity: high, action: block}\n"
        "  categories:\n"
        "    reward_hacking: {medium: ask, high: block}\n"
        "  allow: {commands: ['git push origin *']}\n")
    policy = policy_from_env({"OTEL_COT_GUARD_CONFIG": str(tmp_path / "guard.yaml")})
    assert policy is not None and policy.fail_closed
    assert policy.workspace == str(tmp_path / "repo"), "relative to the config file"
    assert policy.action_for(_finding("destructive_action", "critical"), "bash") == ("block", "force")
    assert policy.action_for(_finding("destructive_action", "medium"), "bash") == ("log", "default")
    assert policy.action_for(_finding("reward_hacking", "medium"), "edit") == ("ask", "categories.reward_hacking.medium")
    assert policy.allow.commands == ("git push origin *",)
    assert policy_from_env({}) is None


@pytest.mark.parametrize("bad", [{"default": "explode"}, {"on_error": "maybe"}, {"on_block": "shout"},
                                 {"rules": [{"action": "block", "min_severity": "huge"}]},
                                 {"categories": {"deception": {"urgent": "block"}}}, {"ask": 3}])
def test_bad_values_are_configuration_errors(bad):
    with pytest.raises(ConfigurationError):
        load_policy(bad)
