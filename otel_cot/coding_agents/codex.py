from .reader import SessionReader


class CodexReader(SessionReader):
    agent = "codex"
