"""The guard policy: which findings block, ask or only log; allow-lists; what happens when the guard fails.

As a mapping (``otel_cot.init(guard={...})``) or the ``guard`` section of a YAML file
(``OTEL_COT_GUARD_CONFIG=path``)::

    guard:
      default: log                 # action for findings no rule matches: log | ask | block
      rules:                       # first matching rule wins, per finding
        - name: no-force-push
          category: destructive_action     # or categories: [...]
          min_severity: high               # or severity: [high, critical]
          detector: cot.destructive_action # optional
          tools: ['^bash$']                # optional tool-name regexes
          action: block
      categories:                  # shorthand, after `rules`: category -> action, or severity -> action
        reward_hacking: block
        destructive_action: {medium: ask, high: block, critical: block}
      allow:
        tools: [read_file, 'list_*']       # tool-name globs: never blocked or asked
        commands: ['git push origin *']    # globs each simple shell command must match
        paths: [./build/**, /tmp/**]       # globs (relative to the workspace) every touched path must match
      workspace: .                 # flag deletes and edits outside this directory (cot.guard.workspace)
      on_error: open               # the guard failed or overran: open (allow) | closed (block)
      timeout_ms: 50
      on_block: auto               # auto | raise | message (see docs/guard.md)
      ask: my_pkg.prompts:ask_user # callable (sync or async) for `ask`; in Python, pass the function
      detectors: {disable: [cot.deception]}  # which detectors the guard runs (as in the detectors config)
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Union

import yaml

from ..config import GUARD_CONFIG_ENV, ConfigurationError
from ..detectors.base import SEVERITIES, Finding, severity_rank
from .decision import ACTIONS, LOG, AskRequest

AskCallback = Callable[[AskRequest], Union[bool, Awaitable[bool]]]


@dataclass(frozen=True)
class Rule:
    """Matches a finding by category, severity, detector and tool; ``action`` applies when it does."""

    name: str
    action: str
    categories: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    min_severity: str | None = None
    detectors: frozenset[str] | None = None
    tools: tuple[re.Pattern[str], ...] = ()

    def matches(self, finding: Finding, tool: str) -> bool:
        if self.categories is not None and finding.category not in self.categories:
            return False
        if self.severities is not None and finding.severity not in self.severities:
            return False
        if self.min_severity is not None and severity_rank(finding.severity) < severity_rank(self.min_severity):
            return False
        if self.detectors is not None and finding.detector_id not in self.detectors:
            return False
        return not self.tools or any(t.search(tool) for t in self.tools)


@dataclass(frozen=True)
class AllowList:
    tools: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A compiled guard policy (see the module docstring for the mapping form)."""

    rules: tuple[Rule, ...] = ()
    default: str = LOG
    allow: AllowList = field(default_factory=AllowList)
    workspace: str | None = None
    on_error: str = "open"
    timeout_ms: float = 50.0
    on_block: str = "auto"
    ask: AskCallback | None = None
    detectors: Any = None
    """``None`` (the default detectors), a detectors-config mapping, or a list of detector objects."""
    base_dir: str = "."

    @property
    def fail_closed(self) -> bool:
        return self.on_error == "closed"

    def action_for(self, finding: Finding, tool: str) -> tuple[str, str]:
        """(action, rule name) for one finding."""
        for rule in self.rules:
            if rule.matches(finding, tool):
                return rule.action, rule.name
        return self.default, "default"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str = ".") -> "Policy":
        data = dict(data)
        if isinstance(data.get("guard"), Mapping):
            data = dict(data["guard"])
        rules = [_rule(raw, i) for i, raw in enumerate(data.get("rules") or ())]
        for category, spec in (data.get("categories") or {}).items():
            rules.extend(_category_rules(str(category), spec))
        allow_raw = data.get("allow") or {}
        if not isinstance(allow_raw, Mapping):
            raise ConfigurationError("guard.allow must be a mapping with tools / commands / paths")
        allow = AllowList(tools=_strings(allow_raw.get("tools")), commands=_strings(allow_raw.get("commands")),
                          paths=_strings(allow_raw.get("paths")))
        workspace = data.get("workspace")
        on_error = str(data.get("on_error", "open"))
        if on_error not in ("open", "closed"):
            raise ConfigurationError(f"guard.on_error must be open or closed, got {on_error!r}")
        on_block = str(data.get("on_block", "auto"))
        if on_block not in ("auto", "raise", "message"):
            raise ConfigurationError(f"guard.on_block must be auto, raise or message, got {on_block!r}")
        ask = data.get("ask")
        if isinstance(ask, str):
            ask = _import(ask)
        if ask is not None and not callable(ask):
            raise ConfigurationError("guard.ask must be a callable or an import path 'module:function'")
        return cls(
            rules=tuple(rules),
            default=_action(data.get("default", LOG), "guard.default"),
            allow=allow,
            workspace=os.path.abspath(os.path.join(base_dir, os.path.expanduser(str(workspace))))
            if workspace else None,
            on_error=on_error,
            timeout_ms=float(data.get("timeout_ms", 50.0)),
            on_block=on_block,
            ask=ask,
            detectors=data.get("detectors"),
            base_dir=os.path.abspath(base_dir),
        )

    @property
    def root(self) -> str:
        """The directory relative paths are resolved against: the workspace, else the config's directory."""
        return self.workspace or self.base_dir


def load_policy(source: "Policy | Mapping[str, Any] | str | os.PathLike[str]") -> Policy:
    """A policy from a Policy, a mapping, or a YAML file path (its ``guard`` section, or the whole file)."""
    if isinstance(source, Policy):
        return source
    if isinstance(source, Mapping):
        return Policy.from_dict(source)
    path = os.fspath(source)
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path}: a guard config is a mapping")
    return Policy.from_dict(data, base_dir=os.path.dirname(os.path.abspath(path)))


def policy_from_env(env: Mapping[str, str] | None = None) -> Policy | None:
    path = (os.environ if env is None else env).get(GUARD_CONFIG_ENV, "").strip()
    return load_policy(path) if path else None


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _action(value: Any, where: str) -> str:
    action = str(value)
    if action not in ACTIONS:
        raise ConfigurationError(f"{where}: action must be one of {ACTIONS}, got {action!r}")
    return action


def _severities(value: Any, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = frozenset(_strings(value))
    bad = values - set(SEVERITIES)
    if bad:
        raise ConfigurationError(f"{where}: unknown severity {sorted(bad)}; use {SEVERITIES}")
    return values


def _rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"guard.rules[{index}] must be a mapping")
    name = str(raw.get("name") or f"rules[{index}]")
    where = f"guard rule {name}"
    categories = _strings(raw.get("categories", raw.get("category"))) or None
    min_severity = raw.get("min_severity")
    if min_severity is not None and str(min_severity) not in SEVERITIES:
        raise ConfigurationError(f"{where}: min_severity must be one of {SEVERITIES}")
    detectors = _strings(raw.get("detectors", raw.get("detector"))) or None
    try:
        tools = tuple(re.compile(t) for t in _strings(raw.get("tools")))
    except re.error as exc:
        raise ConfigurationError(f"{where}: bad tools regex: {exc}") from None
    return Rule(name=name, action=_action(raw.get("action", LOG), where),
                categories=frozenset(categories) if categories else None,
                severities=_severities(raw.get("severity", raw.get("severities")), where),
                min_severity=str(min_severity) if min_severity is not None else None,
                detectors=frozenset(detectors) if detectors else None, tools=tools)


def _category_rules(category: str, spec: Any) -> list[Rule]:
    where = f"guard.categories.{category}"
    if isinstance(spec, Mapping):
        out = []
        for severity, action in spec.items():
            sev = str(severity)
            severities = None if sev in ("*", "any") else _severities(sev, where)
            out.append(Rule(name=f"categories.{category}.{sev}", action=_action(action, where),
                            categories=frozenset({category}), severities=severities))
        return out
    return [Rule(name=f"categories.{category}", action=_action(spec, where), categories=frozenset({category}))]


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def allowed_tool(allow: AllowList, tool: str) -> str | None:
    """The allow-list pattern ``tool`` matches, if any."""
    for pattern in allow.tools:
        if fnmatch.fnmatchcase(tool, pattern):
            return pattern
    return None
