"""Coding-agent hooks: the guard judges a Claude Code, Codex CLI or Gemini CLI tool call before it runs.

``otel-cot hooks install claude-code`` (or ``codex``, ``gemini-cli``) puts the hook commands into the agent's
settings (:mod:`.install`). Before each tool call the agent runs :mod:`.client`, a small script that hands the
call to the checker (:mod:`.server`, :mod:`.service`): a per-user process that keeps each session's transcript
read (:mod:`.history`) and the policy's guard warm, and answers deny, ask or nothing in the agent's own format.
After tool calls and at the end of answers and sessions it exports the session's spans over OTLP, like
``otel-cot watch``. docs/coding-agents.md, "Hooks".

This package's ``__init__`` imports nothing: the client must start fast.
"""
