"""What the detectors read out of one view, worked out once per view instead of once per detector.

``facts_of(view)`` gives the view's :class:`ViewFacts`: its tool-call arguments parsed as JSON and their
leaf values, the shell command it runs, that command split into simple commands and whether it runs
tests, the file it edits, the patch it carries, its lowered text. Each is computed the first time a
detector asks and kept on the object, so the prompt-injection, destructive-action, reward-hacking and
deception detectors (and the guard) that all ask about the same tool call parse its arguments once. The
view's compiled text scan is shared the same way inside :mod:`otel_cot.textscan` (one scan per text
object).

The facts of the last view asked about are kept (views are frozen, so they are a function of the view;
its identity is checked, so a later object at the same address cannot be confused with it). A detector
that never calls ``facts_of`` sees nothing different: the engine still passes it only the view and the
trace context.
"""

from __future__ import annotations

from typing import Any, Sequence

from .arguments import Edit, command_from, edit_from, is_edit_tool, leaf_values, parse_arguments, patch_edits, \
    patch_from, programs_of, simple_commands
from .base import SpanView
from .test_talk import runs_tests as command_runs_tests

_UNSET: Any = object()
MAX_SPLIT_CHARS = 100_000  # a command longer than this is split on its first 100,000 characters


class ViewFacts:
    """One view's derived facts, each computed on first use (see the module)."""

    # Each fact is spelled out as a property over a slot rather than through a shared once-computed
    # descriptor: the descriptor (a __dict__ per facts object, a Python __get__ plus the compute call on
    # each first use) cost ~1.5 us per span on bench/collector_breakdown.py's load (25.5 -> 27 us).

    __slots__ = ("view", "_arguments", "_leaves", "_command", "_commands", "_programs", "_runs_tests", "_edit",
                 "_patch", "_patches", "_lower")

    def __init__(self, view: SpanView) -> None:
        self.view = view
        self._arguments = self._leaves = self._command = self._commands = self._programs = self._runs_tests = _UNSET
        self._edit = self._patch = self._patches = self._lower = _UNSET

    @property
    def raw_arguments(self) -> str:
        """The arguments as text (a tool call's ``arguments``, else its text)."""
        view = self.view
        return view.arguments or view.text or ""

    @property
    def arguments(self) -> Any:
        """The arguments parsed as JSON (None: not JSON, or truncated). Shared: do not change it."""
        return self.parsed()

    def parsed(self) -> Any:
        """:attr:`arguments` (a method, for the helpers that parse only when they need to)."""
        if self._arguments is _UNSET:
            self._arguments = parse_arguments(self.raw_arguments)
        return self._arguments

    @property
    def leaves(self) -> tuple[str, ...]:
        """Every string/number leaf of the parsed arguments, as text (``actions.leaf_values``)."""
        if self._leaves is _UNSET:
            self._leaves = tuple(leaf_values(self.arguments))
        return self._leaves

    @property
    def command(self) -> str | None:
        """The shell command the action runs, if it is a shell action."""
        if self._command is _UNSET:
            self._command = command_from(self.view, self.parsed)
        return self._command

    @property
    def commands(self) -> tuple[tuple[str, ...], ...]:
        """:attr:`command` (its first :data:`MAX_SPLIT_CHARS` characters) as simple commands (argv
        tuples, ``actions.split_commands``); empty when the action runs no shell command."""
        if self._commands is _UNSET:
            command = self._command
            if command is _UNSET:
                command = self.command
            self._commands = simple_commands(command[:MAX_SPLIT_CHARS]) if command else ()
        return self._commands

    @property
    def programs(self) -> tuple[tuple[str, Sequence[str]], ...]:
        """:attr:`commands` as ``(program, argv without wrappers)`` (``arguments.programs_of``): what the
        destructive-action and reward-hacking detectors judge each simple command by."""
        if self._programs is _UNSET:
            commands = self._commands
            self._programs = programs_of(self.commands if commands is _UNSET else commands)
        return self._programs

    @property
    def runs_tests(self) -> bool:
        """Whether :attr:`command` runs tests (``test_talk.TEST_RUN`` finds a test runner in it:
        ``test_talk.runs_tests``)."""
        if self._runs_tests is _UNSET:
            command = self.command
            self._runs_tests = command is not None and command_runs_tests(command)
        return self._runs_tests

    @property
    def edit(self) -> Edit | None:
        """The file an edit/write action changes, and its old and new text."""
        if self._edit is _UNSET:
            tool = self.view.tool  # (a named tool that is no edit tool edits nothing: edit_from's first test)
            self._edit = edit_from(self.view, self.parsed) if not tool or is_edit_tool(tool) else None
        return self._edit

    @property
    def patch(self) -> str:
        """The patch the action carries (an argument holding one, or the raw text), or ""."""
        if self._patch is _UNSET:
            self._patch = patch_from(self.raw_arguments, self.parsed)
        return self._patch

    @property
    def patches(self) -> list[tuple[str, str, str | None]]:
        """``(path, removed, added)`` per file of :attr:`patch` (``actions.patch_edits``). Shared: do not
        change it."""
        if self._patches is _UNSET:
            view = self.view
            raw = view.arguments or view.text or ""  # (raw_arguments; without either marker, no patch)
            self._patches = patch_edits(self.patch) if "*** " in raw or "+++ " in raw else []
        return self._patches

    @property
    def lower(self) -> str:
        """The view's text lowered (``str.lower``)."""
        if self._lower is _UNSET:
            self._lower = self.view.text.lower()
        return self._lower


_LAST: ViewFacts = ViewFacts(SpanView(kind=""))


def facts_of(view: SpanView) -> ViewFacts:
    """The facts of ``view`` (the same object for every detector that asks about it in a row)."""
    global _LAST
    last = _LAST
    if last.view is view:
        return last
    last = _LAST = ViewFacts(view)
    return last
