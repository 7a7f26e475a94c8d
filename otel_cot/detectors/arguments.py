"""Read structure out of a tool call's arguments: the shell command it runs, the file an edit writes and its
old and new text, a patch, a command line split into simple commands. Tolerant of truncated JSON (stored
traces often cut long arguments). The detectors read these through a view's facts (:mod:`.facts`), once
per view; :mod:`.actions` is the public face of both."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from .base import SpanView

SHELL_TOOLS = re.compile(
    r"^(bash|sh|zsh|shell|terminal|run_?command|run_?shell(_command)?|exec(_command)?|execute(_command)?|"
    r"command|cmd|run|local_shell|container\.exec|run_terminal_cmd|execute_bash|powershell)$",
    re.IGNORECASE,
)
EDIT_TOOLS = re.compile(
    r"(edit|write|create|replace|patch|str_replace|insert|update_file|file_change|multiedit|save)",
    re.IGNORECASE,
)
_KEY = r'"(?:{keys})"\s*:\s*"((?:[^"\\]|\\.)*)'
_COMMAND_KEYS = _KEY.format(keys="command|cmd|script|commands|input")
_PATH_KEYS = _KEY.format(keys="file_path|filePath|path|target_file|filename|file|TargetFile|AbsolutePath")
_OLD_KEYS = _KEY.format(keys="old_string|oldString|oldText|old_str|old|search|TargetContent")
_NEW_KEYS = _KEY.format(keys="new_string|newString|newText|new_str|new|replace|content|file_text|text|"
                        "code|CodeContent|ReplacementContent|contents|patch")
_COMMAND_RE = re.compile(_COMMAND_KEYS)
_PATH_RE = re.compile(_PATH_KEYS)
_OLD_RE = re.compile(_OLD_KEYS)
_NEW_RE = re.compile(_NEW_KEYS)
_CALL_PREFIX = re.compile(r"^\s*[-*]?\s*([\w.\-]+)\(")  # "name({...})" renderings

TEST_PATH = re.compile(
    r"(^|[/\\\s\"'])(tests?|__tests__|spec|specs)[/\\]|(^|[/\\\s\"'])test_[\w\-]*\.\w+|[\w\-]_test\.\w+|"
    r"\.(test|spec)\.[jt]sx?\b|(^|[/\\\s\"'])conftest\.py|Test\.java\b|_spec\.rb\b|"
    r"(^|[/\\\s\"'])tests?\.(?:py|[jt]sx?|rb|go|rs|java|php|sh)\b",
    re.IGNORECASE,
)


def is_test_path(text: str) -> bool:
    """``TEST_PATH.search(text) is not None``. Every TEST_PATH match holds "test" or "spec" (in any case):
    an ASCII text without either, lowered (what IGNORECASE compares for ASCII), is not searched (the search
    of a path that names no test costs ~2-6 µs: each alternative is tried at every position)."""
    if text.isascii():
        lower = text.lower()
        if "test" not in lower and "spec" not in lower:
            return False
    return TEST_PATH.search(text) is not None


CI_PATH = re.compile(r"\.github[/\\]workflows[/\\]|\.gitlab-ci\.yml|(^|[/\\])(grader|grading|evaluate|"
                     r"scorer|score)\.\w+|Jenkinsfile|\.circleci[/\\]", re.IGNORECASE)


def is_ci_path(text: str) -> bool:
    """``CI_PATH.search(text) is not None``, searched only where a match may be (as :func:`is_test_path`):
    every match holds "github", "gitlab", "grad", "evaluate", "score", "jenkinsfile" or "circleci"."""
    if text.isascii():
        lower = text.lower()
        if not ("github" in lower or "gitlab" in lower or "grad" in lower or "evaluate" in lower or
                "score" in lower or "jenkinsfile" in lower or "circleci" in lower):
            return False
    return CI_PATH.search(text) is not None


def _unescape(s: str) -> str:
    try:
        return json.loads('"' + s + '"')
    except ValueError:
        return s.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return _unescape(m.group(1)) if m else None


def parse_arguments(text: str | None) -> Any:
    """The arguments as parsed JSON, or None (text that is not JSON, or truncated)."""
    if not text:
        return None
    body = text.strip()
    if not body.startswith(("{", "[")):  # (a body starting so has no "name(" prefix)
        m = _CALL_PREFIX.match(body)
        if m and body.endswith(")"):
            body = body[m.end():-1]
        if not body.startswith(("{", "[")):
            return None
    try:  # json.loads(body) without its three Python frames: the value from the body's first character,
        value, end = _SCAN_JSON(body, 0)
    except (StopIteration, ValueError):
        return None
    if end != len(body) and body[end:].strip(_JSON_SPACE):  # then only JSON's whitespace may follow it
        return None
    return value


_SCAN_JSON = json.JSONDecoder().scan_once  # (what json.loads runs with its default arguments)
_JSON_SPACE = " \t\n\r"  # the whitespace json.loads allows around a value


def leaf_values(value: Any, limit: int = 500) -> Iterator[str]:
    """Every string/number leaf of parsed arguments, as text."""
    stack = [value]
    n = 0
    while stack and n < limit:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif v is not None and not isinstance(v, bool):
            n += 1
            yield str(v)


@dataclass(frozen=True)
class Edit:
    path: str | None
    old: str | None
    new: str | None


_NAME_ANSWERS: dict[tuple[Any, int, str], bool] = {}
_MAX_NAME_ANSWERS = 4096


def name_matches(pattern: re.Pattern[str], name: str) -> bool:
    """Whether ``pattern.search(name)`` finds something in a tool name, remembered: an agent has few tools,
    and several detectors ask about the name of every call and result. Remembered under the pattern's text
    and flags (which decide its answers), not the pattern object: hashing a compiled pattern hashes its
    whole compiled code, a tuple of strings reuses their kept hashes."""
    key = (pattern.pattern, pattern.flags, name)
    answer = _NAME_ANSWERS.get(key)
    if answer is None:
        if len(_NAME_ANSWERS) >= _MAX_NAME_ANSWERS:
            _NAME_ANSWERS.clear()
        answer = _NAME_ANSWERS[key] = pattern.search(name) is not None
    return answer


def name_test(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """:func:`name_matches` bound to one pattern: ``pattern.search(name) is not None``, remembered per name in
    the pattern's own dict (no key tuple to build and hash: ~0.1 µs less a call than ``name_matches``, which
    the shell and edit facts and the deception detector ask on every tool call or result)."""
    answers: dict[str, bool] = {}
    search = pattern.search

    def matches(name: str) -> bool:
        answer = answers.get(name)
        if answer is None:
            if len(answers) >= _MAX_NAME_ANSWERS:
                answers.clear()
            answer = answers[name] = search(name) is not None
        return answer

    return matches


is_shell_tool = name_test(SHELL_TOOLS)
is_edit_tool = name_test(EDIT_TOOLS)


def tool_name(view: SpanView) -> str:
    if view.tool:
        return view.tool
    m = _CALL_PREFIX.match(view.text or "")
    return m.group(1) if m else ""


def command_in(args: dict) -> str | None:
    """The command a shell tool's parsed arguments carry (a list of words joined), or None."""
    for key in ("command", "cmd", "script", "commands", "input"):
        value = args.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        if isinstance(value, str):
            return value
    return None


def command_from(view: SpanView, arguments: Callable[[], Any]) -> str | None:
    """:func:`shell_command` given a way to get the view's parsed arguments (asked only for shell tools)."""
    text = view.arguments or view.text or ""
    first = text[:1]
    if first == "$" or first.isspace():  # (else text.lstrip() starts with that character, not "$ ")
        stripped = text.lstrip()
        if stripped.startswith("$ "):  # rendered "$ command\noutput"
            return stripped[2:].split("\n", 1)[0]
    if not is_shell_tool(view.tool or tool_name(view)):  # (anchored at both ends: search is match)
        return None
    args = arguments()
    if isinstance(args, dict):
        return command_in(args)
    found = _first(_COMMAND_RE, text)
    if found is not None:
        return found
    if args is None:
        stripped = text.lstrip()
        if not stripped.startswith(("{", "[")) and not _CALL_PREFIX.match(stripped):
            return text  # plain command text (SWE-agent style)
    return None


def edit_from(view: SpanView, arguments: Callable[[], Any]) -> Edit | None:
    """:func:`file_edit` given a way to get the view's parsed arguments (asked only for edit tools)."""
    if not is_edit_tool(view.tool or tool_name(view)):
        return None
    text = view.arguments or view.text or ""
    args = arguments()
    if isinstance(args, dict):
        def pick(*keys: str) -> str | None:
            for k in keys:
                v = args.get(k)
                if isinstance(v, str):
                    return v
            return None
        old = pick("old_string", "oldString", "oldText", "old_str", "old", "search", "TargetContent")
        new = pick("new_string", "newString", "newText", "new_str", "new", "replace", "content", "file_text",
                   "text", "code", "CodeContent", "ReplacementContent", "contents", "patch")
        edits = args.get("edits")
        if isinstance(edits, list):
            olds = [e.get("oldText") or e.get("old_string") or "" for e in edits if isinstance(e, dict)]
            news = [e.get("newText") or e.get("new_string") or "" for e in edits if isinstance(e, dict)]
            old = "\n".join(str(o) for o in olds) or old
            new = "\n".join(str(n) for n in news) or new
        path = pick("file_path", "filePath", "path", "target_file", "filename", "file", "TargetFile",
                    "AbsolutePath")
        return Edit(path, old, new)
    path = _first(_PATH_RE, text)
    if path is None:
        # a summary line such as "Edit file: tests/test_x.py" or "Update(tests/test_x.py)"
        m = re.search(r"[\w./\\\-]+\.\w{1,5}", text[:300])
        path = m.group(0) if m else None
    return Edit(path, _first(_OLD_RE, text), _first(_NEW_RE, text))


# Characters that make shlex differ from splitting on its whitespace (' \t\r'; lines hold no '\n'):
# quotes, the escape, the comment character and the punctuation split_commands splits at.
_SHELL_SPECIAL = re.compile(r"[\'\"\\#;&|()<>]")
_SHELL_WORD = re.compile(r"[^ \t\r]+")
_SHELL_QUOTING = re.compile(r"[\'\"\\#]")  # what only shlex reads right: quotes, escapes, comments
# shlex's tokens of a line without quoting (posix, whitespace_split, punctuation_chars ";&|()<>"): runs of
# punctuation, and runs of anything but its whitespace (" \t\r") and punctuation
_SHELL_TOKEN = re.compile(r"[;&|()<>]+|[^ \t\r;&|()<>]+")
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_SPLIT_CACHE: dict[str, tuple[tuple[str, ...], ...]] = {}
_SPLIT_CACHE_SIZE = 256  # commands remembered (several detectors parse the same command)
_SPLIT_CACHE_MAX_CHARS = 8192  # longer commands are parsed every time (bounds the cache to ~2 MB)


def split_commands(command: str) -> list[list[str]]:
    """A shell command line as simple commands (argv lists), split at ``; && || | &`` and newlines.

    Quoting is honoured (``shlex``); heredoc bodies and unparsable pieces are skipped line by line.
    A line without quotes, escapes, comments or operators is split on whitespace directly, one with
    operators but none of the others into runs of operators and of other characters (what shlex would give,
    without its per-character loop), and the results of recent commands are remembered.
    """
    return [list(argv) for argv in simple_commands(command)]


def simple_commands(command: str) -> tuple[tuple[str, ...], ...]:
    """:func:`split_commands` as tuples (the remembered answer itself: no copy)."""
    cached = _SPLIT_CACHE.get(command)
    if cached is None:
        if command.isprintable() and _SHELL_SPECIAL.search(command) is None:
            # one line of plain words: printable text holds no whitespace but " " (no line break, tab or
            # carriage return), so str.split() splits it where shlex would
            words = command.split()
            cached = (tuple(words),) if words else ()
        else:
            cached = tuple(tuple(argv) for argv in _split_commands(command))
        if len(command) <= _SPLIT_CACHE_MAX_CHARS:
            if len(_SPLIT_CACHE) >= _SPLIT_CACHE_SIZE:
                # emptied when full (as name_matches' answers): dropping the oldest entry one at a time
                # cost every new command ~0.3 us (an iterator over a dict whose front keeps being deleted)
                _SPLIT_CACHE.clear()
            _SPLIT_CACHE[command] = cached
    return cached


def _split_commands(command: str) -> list[list[str]]:
    if _SHELL_SPECIAL.search(command) is None:  # no operators, quotes or heredocs anywhere
        return [words for words in map(_SHELL_WORD.findall, command.split("\n")) if words]
    return split_lines(command, line_tokens)


def line_tokens(line: str) -> list[str]:
    """One line's tokens as :func:`shlex_tokens` gives them, without shlex's per-character loop where the
    line holds no escapes or comments (~25-45 µs a quoted 30-character line in shlex)."""
    if _SHELL_SPECIAL.search(line) is None:
        return _SHELL_WORD.findall(line)
    if _SHELL_QUOTING.search(line) is None:  # operators only
        return _SHELL_TOKEN.findall(line)
    if "\\" not in line and "#" not in line and "\n" not in line:  # quotes, but no escape or comment
        return _quoted_tokens(line)
    return shlex_tokens(line)


# shlex's tokens of a line with quotes but no escape or comment: runs of punctuation; words, each a run of
# unquoted characters and whole quoted strings (the quotes dropped, what they hold kept as it is, an empty
# '' or "" an empty word); whitespace (space, tab, carriage return) between them. A quote left open: shlex
# refuses the line.
_QUOTED_LINE = re.compile(r"""[ \t\r]+|([;&|()<>]+)|((?:[^ \t\r;&|()<>'"]+|'[^']*'|"[^"]*")+)|(.)""")
_QUOTED_PIECE = re.compile("'([^']*)'|\"([^\"]*)\"")


def _quoted_tokens(line: str) -> list[str]:
    out = []
    for m in _QUOTED_LINE.finditer(line):
        punctuation, word, open_quote = m.groups()
        if punctuation is not None:
            out.append(punctuation)
        elif word is not None:
            out.append(_QUOTED_PIECE.sub(_unquoted, word) if "'" in word or '"' in word else word)
        elif open_quote is not None:
            return shlex_tokens(line)  # (no closing quotation: its words)
    return out


def _unquoted(m: re.Match[str]) -> str:
    return m.group(1) if m.group(1) is not None else m.group(2)


def shlex_tokens(line: str) -> list[str]:
    """One line's tokens as ``shlex`` reads them (POSIX, split on whitespace, ``#`` comments, runs of
    ``;&|()<>`` as tokens); an unparsable line (an open quote) as its whitespace-separated words."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:
        return line.split()


def split_lines(command: str, tokens: Callable[[str], list[str]]) -> list[list[str]]:
    """``command``'s lines, heredoc bodies skipped, read by ``tokens`` and cut into simple commands at the
    operator tokens (:func:`split_commands` with ``tokens=line_tokens``)."""
    out: list[list[str]] = []
    heredoc_end: str | None = None
    for line in command.split("\n"):
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        hd = _HEREDOC.search(line)
        if hd:
            heredoc_end = hd.group(1)
            line = line[: hd.start()]
        current: list[str] = []
        for tok in tokens(line):
            if tok and set(tok) <= _OPERATOR_CHARS:
                if current:
                    out.append(current)
                current = []
            else:
                current.append(tok)
        if current:
            out.append(current)
    return out


_OPERATOR_CHARS = frozenset(";&|()")


_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_WRAPPERS = {"sudo", "command", "exec", "nohup", "time", "env", "nice", "doas", "xargs"}


def strip_wrappers(argv: Sequence[str]) -> Sequence[str]:
    """Drop ``sudo``/``env X=1``/``xargs`` prefixes and leading variable assignments."""
    if argv and argv[0] not in _WRAPPERS and "=" not in argv[0]:  # nothing to drop (an assignment has "=")
        return argv
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _WRAPPERS or _ASSIGNMENT.match(tok):
            i += 1
            while tok in ("sudo", "env", "xargs", "nice") and i < len(argv) and argv[i].startswith("-"):
                i += 1
            continue
        break
    return argv[i:]


def programs_of(commands: Sequence[Sequence[str]]) -> tuple[tuple[str, Sequence[str]], ...]:
    """Each simple command as ``(program, argv)``: ``argv`` without wrappers (:func:`strip_wrappers`), the
    program its first word's basename; a command that is only wrappers is left out."""
    if len(commands) == 1:  # (the common case, without the loop: strip_wrappers' first test, inlined)
        argv = commands[0]
        if argv and argv[0] not in _WRAPPERS and "=" not in argv[0]:
            return ((argv[0].rpartition("/")[2], argv),)
    out = []
    for argv in commands:
        argv = strip_wrappers(argv)
        if argv:
            out.append((argv[0].rpartition("/")[2], argv))
    return tuple(out)


# --- patches: Codex's apply_patch envelope and unified diffs ------------------------------------
_PATCH_FILE = re.compile(r"^\*\*\* (Update|Add|Delete) File: (.+?)\s*$|^\+\+\+ (?:b/)?(\S+)", re.MULTILINE)


def patch_from(raw: str, arguments: Callable[[], Any]) -> str:
    """:func:`patch_text` of arguments ``raw``, given a way to get them parsed (asked only when ``raw``
    may hold a patch)."""
    if "*** " not in raw and "+++ " not in raw:
        return ""
    args = arguments()
    if args is not None:
        for value in leaf_values(args):
            if "*** " in value or "+++ " in value:
                return value
    return raw


def patch_edits(text: str) -> list[tuple[str, str, str | None]]:
    """``(path, removed lines, added lines)`` per file of a patch in ``text`` (``*** Update File:`` or
    ``+++ b/path``); added is None for a deleted file."""
    if "*** " not in text and "+++ " not in text:
        return []
    found = list(_PATCH_FILE.finditer(text))
    out = []
    for i, m in enumerate(found):
        body = text[m.end(): found[i + 1].start() if i + 1 < len(found) else len(text)]
        path = (m.group(2) or m.group(3) or "").strip()
        removed = "\n".join(ln[1:] for ln in body.splitlines() if ln.startswith("-") and not ln.startswith("---"))
        added = "\n".join(ln[1:] for ln in body.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
        out.append((path, removed, None if m.group(1) == "Delete" else added))
    return out
