from .reader import SessionReader


class GeminiCliReader(SessionReader):
    agent = "gemini_cli"
