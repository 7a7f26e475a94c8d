"""The monitor's config section: defaults, and a clear error naming the key path for each mistake."""

from __future__ import annotations

import pytest

from otel_cot.config import ConfigurationError
from otel_cot.monitor.config import load_monitor_config, parse_monitor
from otel_cot.monitor.prompt import load_prompt, parse_prompt


def test_defaults_and_the_key_variable(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    config = parse_monitor({"model": "gpt-4o-mini"})
    assert config.api == "openai" and config.base_url == "https://api.openai.com/v1"
    assert config.api_key_env == "OPENAI_API_KEY" and config.api_key() == "sk-x"
    assert config.triggers.flagged and not config.triggers.every_trace and config.triggers.sample == 0
    assert config.budgets.calls_per_minute == 30 and config.structured_output and config.prompt == "v1"
    local = parse_monitor({"model": "qwen3:8b", "endpoint": "http://127.0.0.1:11434/v1"})
    assert local.api_key_env is None and local.api_key() is None  # a local server needs no key


def test_absent_or_switched_off_means_no_monitor():
    assert parse_monitor(None) is None
    assert parse_monitor({"enabled": False, "model": "m", "whatever": 1}) is None


@pytest.mark.parametrize("section, message", [
    ({"endpoint": "http://h/v1"}, "detectors.monitor.model: required"),
    ({"model": "m", "endpoint": "http://h", "api": "gemini"}, "detectors.monitor.api: expected one of openai, anthropic"),
    ({"model": "m", "endpoint": "ftp://h"}, "detectors.monitor.endpoint: expected an http:// or https:// base URL"),
    ({"model": "m", "endpoint": "http://h", "api_key": "sk-123"}, "detectors.monitor.api_key: the key must not be in the file"),
    ({"model": "m", "endpoint": "http://h", "api_key_env": "sk-live 123"}, "detectors.monitor.api_key_env: expected the name"),
    ({"model": "m", "endpoint": "http://h", "api_key_env": "NOT_SET_ANYWHERE_X"},
     "detectors.monitor.api_key_env: environment variable NOT_SET_ANYWHERE_X is not set"),
    ({"model": "m", "endpoint": "http://h", "budgets": {"calls_per_minute": "lots"}},
     "detectors.monitor.budgets.calls_per_minute: expected a whole number >= 0, got 'lots'"),
    ({"model": "m", "endpoint": "http://h", "budgets": {"calls_per_hour": 5}},
     "detectors.monitor.budgets.calls_per_hour: unknown key (allowed here: calls_per_day, calls_per_minute"),
    ({"model": "m", "endpoint": "http://h", "triggers": {"sample": 1.5}},
     "detectors.monitor.triggers.sample: expected a number from 0 to 1, got 1.5"),
    ({"model": "m", "endpoint": "http://h", "triggers": {"every": True}}, "detectors.monitor.triggers.every: unknown key"),
    ({"model": "m", "endpoint": "http://h", "timeout": "soon"}, "detectors.monitor.timeout: expected a duration"),
    ({"model": "m", "endpoint": "http://h", "timeout": 0}, "detectors.monitor.timeout: expected a duration"),
    ({"model": "m", "endpoint": "http://h", "window": {"max_tokens": 10}},
     "detectors.monitor.window.max_tokens: expected a whole number >= 500"),
    ({"model": "m", "endpoint": "http://h", "concurency": 2}, "detectors.monitor.concurency: unknown key"),
    ({"model": "m", "endpoint": "http://h", "structured_output": "yes"},
     "detectors.monitor.structured_output: expected true or false"),
    ("gpt-4o", "detectors.monitor: expected a mapping"),
])
def test_each_mistake_is_named_by_its_key_path(section, message):
    with pytest.raises(ConfigurationError) as err:
        parse_monitor(section)
    assert message in str(err.value)


def test_a_file_names_itself_in_errors_and_reads_the_detectors_section(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text("detectors:\n  builtin: true\n  monitor:\n    model: m\n    endpoint: http://127.0.0.1:1/v1\n"
                    "    budgets: {tokens_per_day: -1}\n")
    with pytest.raises(ConfigurationError, match=r"team\.yaml: detectors\.monitor\.budgets\.tokens_per_day"):
        load_monitor_config(str(path))
    path.write_text("detectors:\n  monitor:\n    model: m\n    endpoint: http://127.0.0.1:1/v1\n"
                    "    duration: 3\n    timeout: 1500ms\n    max_retry_after: 2m\n")
    with pytest.raises(ConfigurationError, match="detectors.monitor.duration: unknown key"):
        load_monitor_config(str(path))
    path.write_text("detectors:\n  monitor:\n    model: m\n    endpoint: http://127.0.0.1:1/v1\n"
                    "    timeout: 1500ms\n    max_retry_after: 2m\n")
    config = load_monitor_config(str(path))
    assert (config.timeout_s, config.max_retry_after_s) == (1.5, 120.0)
    path.write_text("detectors:\n  builtin: true\n")
    assert load_monitor_config(str(path)) is None


def test_a_prompt_file_of_your_own_is_resolved_next_to_the_config(tmp_path):
    packaged = load_prompt("v1")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "mine.md").write_text(
        "---\nversion: team-3\nschema: schema.json\n---\n## system\nBe strict.\n## user\n{window}\n## retry\n{problem}\n")
    (tmp_path / "prompts" / "schema.json").write_text('{"type": "object"}')
    path = tmp_path / "d.yaml"
    path.write_text("monitor:\n  model: m\n  endpoint: http://127.0.0.1:1/v1\n  prompt: prompts/mine.md\n")
    config = load_monitor_config(str(path))
    prompt = load_prompt(config.prompt)
    assert prompt.version == "team-3" and prompt.system == "Be strict." and prompt.schema == {"type": "object"}
    assert packaged.version == "v1" and "{window}" in packaged.user


@pytest.mark.parametrize("text, message", [
    ("## system\nx\n## user\n{window}\n## retry\n{problem}\n", "front matter"),
    ("---\nversion: 1\n---\n## system\nx\n## user\nno placeholder\n## retry\n{problem}\n", "must contain {window}"),
    ("---\nversion: 1\n---\n## system\nx\n## user\n{window}\n", "'## retry' section is missing"),
    ("---\nschema: s.json\n---\n## system\nx\n## user\n{window}\n## retry\nr\n", "no version"),
])
def test_a_broken_prompt_file_is_refused(text, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_prompt(text, "{}", "p.md")
    with pytest.raises(ConfigurationError, match="no such packaged prompt"):
        load_prompt("v999")
