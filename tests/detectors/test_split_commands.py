"""split_commands' fast paths (plain whitespace split, remembered results) give what shlex gives."""

from __future__ import annotations

import random
import re

from otel_cot.detectors import arguments
from otel_cot.detectors.actions import split_commands


def _reference(command: str) -> list[list[str]]:
    """split_commands without its fast paths: every line through shlex."""
    return arguments.split_lines(command, arguments.shlex_tokens)


ALPHABET = list("abrmf-./*~$=_ 0129") + [" ", " ", "\t", "\r", "\n", "\x0b", "\xa0", "é", "'", '"', "\\", "#",
                                          ";", "&", "|", "(", ")", "<", ">", "<<EOF\n", "\nEOF\n", "rm -rf ",
                                          "git push --force ", "bash -c "]


def test_matches_shlex_on_random_commands() -> None:
    rnd = random.Random(8)
    for n in range(30_000):
        plain = n % 3 == 0  # a third without any special character (the fast path)
        unquoted = n % 3 == 1  # a third with operators but no quotes, escapes or comments (the second one)
        pool = [c for c in ALPHABET if not (plain and re.search(r"['\"\\#;&|()<>]", c)) and
                not (unquoted and re.search(r"['\"\\#]", c))]
        command = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 40)))
        assert split_commands(command) == _reference(command), repr(command)
        assert split_commands(command) == _reference(command), repr(command)  # the remembered result


KNOWN = {
    "pytest tests/test_x.py -q": [["pytest", "tests/test_x.py", "-q"]],
    "rm -rf / && echo 'done'": [["rm", "-rf", "/"], ["echo", "done"]],
    'bash -c "rm -rf ~"': [["bash", "-c", "rm -rf ~"]],
    "cat > t.py <<'EOF'\nassert x\nEOF\npytest": [["cat", ">", "t.py"], ["pytest"]],  # the heredoc body skipped
    "git push --force origin main # ok": [["git", "push", "--force", "origin", "main"]],
    "  \t ": [],
    "": [],
    "a\r\nb": [["a"], ["b"]],
    'echo "unterminated': [["echo", '"unterminated']],  # shlex refuses the line: its words
    "a|b;c&&d || (e) > f": [["a"], ["b"], ["c"], ["d"], ["e"], [">", "f"]],
}


def test_known_commands() -> None:
    for command, expected in KNOWN.items():
        assert split_commands(command) == expected, repr(command)
        assert _reference(command) == expected, repr(command)


def test_line_tokens_match_shlex_on_random_lines() -> None:
    rnd = random.Random(9)
    pool = [c for c in ALPHABET if "\n" not in c]
    for _ in range(30_000):
        line = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30)))
        assert arguments.line_tokens(line) == arguments.shlex_tokens(line), repr(line)


def test_quoted_lines_without_escapes_or_comments_match_shlex() -> None:
    """The third fast path: quotes (balanced, empty, nested in the other kind, left open) with operators and
    the characters shlex does not count as whitespace, but no backslash or '#'."""
    rnd = random.Random(10)
    pool = [c for c in ALPHABET if "\n" not in c and c not in ("\\", "#")] + ["'", '"', "'", '"', "''", "'a b'",
                                                                             '"x;y"', "'|'"]
    quoted = 0
    for _ in range(30_000):
        line = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30)))
        assert arguments.line_tokens(line) == arguments.shlex_tokens(line), repr(line)
        quoted += "'" in line or '"' in line
    assert quoted > 20_000


def test_results_are_copies_and_cache_is_bounded() -> None:
    first = split_commands("rm -rf build")
    first[0].append("/")
    assert split_commands("rm -rf build") == [["rm", "-rf", "build"]]
    for i in range(arguments._SPLIT_CACHE_SIZE * 3):
        split_commands(f"echo {i}")
    split_commands("x" * (arguments._SPLIT_CACHE_MAX_CHARS + 1))
    assert len(arguments._SPLIT_CACHE) <= arguments._SPLIT_CACHE_SIZE
    assert all(len(k) <= arguments._SPLIT_CACHE_MAX_CHARS for k in arguments._SPLIT_CACHE)


def test_one_printable_line_of_words_splits_as_shlex_does() -> None:
    # the fast path for a printable command without special characters: str.split(), whose whitespace is
    # never printable except " " (checked over every code point)
    assert all(not c.isprintable() for c in map(chr, range(0x110000)) if c.isspace() and c != " ")
    rnd = random.Random(11)
    pool = list("abrmf-./*~$=_0129") + [" ", " ", "  ", "é", "\u00a0", "\u2003", "\u3000", "pytest ", "tests/test_1.py"]
    printable = 0
    for _ in range(20_000):
        command = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30)))
        printable += command.isprintable()
        assert split_commands(command) == _reference(command), repr(command)
    assert printable > 5_000
