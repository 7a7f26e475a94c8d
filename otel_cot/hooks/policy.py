"""The guard policy of the coding-agent hooks: the default file ``otel-cot hooks install`` writes, and the guards
the checker keeps per policy file (reloaded when the file changes).

The policy is the guard's (docs/guard.md). Two things differ in hooks: ``ask`` is the agent's own permission
prompt (a ``guard.ask`` callback in the file is not used), and a policy file that cannot be used is an error
like any other: the call is allowed, or denied when the file says ``on_error: closed`` (read even from a file
that does not parse, by :func:`otel_cot.hooks.client.policy_fails_closed`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Any

from otel_cot.guard.check import Guard
from otel_cot.guard.decision import AskRequest
from otel_cot.guard.policy import Policy, load_policy

from .client import policy_fails_closed

DEFAULT_POLICY = """\
# otel-cot guard policy for the coding-agent hooks (otel-cot hooks install; docs/coding-agents.md, docs/guard.md).
# The checker reloads this file when it changes.
guard:
  rules:
    - name: deny-high
      categories: [destructive_action, reward_hacking, secret_exposure, prompt_injection]
      min_severity: high          # high and critical: the agent is told why and the call does not run
      action: block
    - name: ask-medium
      categories: [destructive_action, reward_hacking, secret_exposure, prompt_injection]
      severity: [medium]          # the agent's own permission prompt decides
      action: ask
  default: log                    # everything else is recorded on the tool span only
  # allow:
  #   commands: ['git push origin *']
  #   paths: ['./build/**', '/tmp/**']
  on_error: open                  # the guard failed or timed out: open (allow) | closed (deny)
  timeout_ms: 50
"""

# How long a session's history is kept in the checker without a hook call for it.
HISTORY_AGE_S = 6 * 3600.0
MAX_SESSIONS = 256


class PolicyError(Exception):
    def __init__(self, message: str, fail_closed: bool) -> None:
        super().__init__(message)
        self.fail_closed = fail_closed


def _agent_asks(_request: AskRequest) -> bool:
    """``ask`` in hooks: the agent asks the person; the guard's part ends there."""
    return True


def hook_guard(policy: Policy) -> Guard:
    return Guard(replace(policy, ask=_agent_asks), max_trace_age_s=HISTORY_AGE_S, max_traces=MAX_SESSIONS)


class Policies:
    """One guard per policy file, rebuilt when the file changes (its sessions' history is read again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: dict[str, tuple[Any, Guard]] = {}

    def guard(self, path: str) -> Guard:
        """The guard of ``path``; :class:`PolicyError` when the file cannot be used."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise PolicyError(f"the policy file {path} cannot be read: {exc}", fail_closed=False) from None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._guards.get(path)
            if cached is not None and cached[0] == key:
                return cached[1]
            try:
                guard = hook_guard(load_policy(path))
            except Exception as exc:
                raise PolicyError(f"the policy file {path} cannot be used: {type(exc).__name__}: {exc}",
                                  fail_closed=policy_fails_closed(path)) from None
            self._guards[path] = (key, guard)
            return guard
