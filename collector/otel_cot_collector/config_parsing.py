"""Reading the collector's YAML config: ``${env:VAR}`` substitution, :class:`Section` (reads one mapping and
reports the keys nobody read), and converters for durations, sizes, endpoints, numbers and names. Every
component's config parser uses these (see :mod:`.registry`); :mod:`.config` reads the whole file.

Every error names the config path it concerns (``exporters.otlp_grpc/jaeger.endpoint: required``), and
unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

SIGNALS = ("traces", "logs", "metrics")


class ConfigError(ValueError):
    """An invalid config; the message names the file and the key path."""


# --- scalars --------------------------------------------------------------------------------------
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6,
               "GB": 10**9}
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def substitute_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace ``${env:VAR}`` (and ``${env:VAR:-default}``); an unset variable without default is an error."""
    env = os.environ if environ is None else environ

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        line = text.count("\n", 0, m.start()) + 1
        raise ConfigError(f"line {line}: environment variable {name} is not set (use ${{env:{name}:-default}})")

    return _ENV.sub(repl, text)


def duration(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{path}: expected a duration like 5s or 200ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{path}: must not be negative")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(f"{path}: expected a duration like 5s or 200ms, got {value!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def size(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{path}: expected a size like 64MiB, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"{path}: must be positive")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ConfigError(f"{path}: expected a size like 64MiB or 1048576, got {value!r}")
    out = int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    if out <= 0:
        raise ConfigError(f"{path}: must be positive")
    return out


def endpoint(value: Any, path: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) as ``(host, port)``."""
    s = str(value or "")
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{path}: expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


class Section:
    """Reads one mapping, tracking which keys were used so leftovers can be reported."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or '<top level>'}: expected a mapping, got {type(data).__name__}")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = None, conv: Callable[[Any, str], Any] | None = None,
            required: bool = False) -> Any:
        """The value at ``key`` converted by ``conv`` (which raises ConfigError naming the path), or
        ``default`` (returned as given, so pass it already converted) when the key is absent or null."""
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(f"{self.sub(key)}: required")
            return default
        value = self.data[key]
        return conv(value, self.sub(key)) if conv else value

    def section(self, key: str) -> "Section":
        self.used.add(key)
        return Section(self.data.get(key), self.sub(key))

    def done(self) -> None:
        extra = [k for k in self.data if k not in self.used]
        if extra:
            allowed = ", ".join(sorted(self.used)) or "none"
            raise ConfigError(f"{self.sub(str(extra[0]))}: unknown key (allowed here: {allowed})")


def boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ConfigError(f"{path}: expected true or false, got {value!r}")


def integer(lo: int, hi: int | None = None) -> Callable[[Any, str], int]:
    """A converter to an integer between ``lo`` and ``hi`` (inclusive; no upper bound when None)."""
    def conv(value: Any, path: str) -> int:
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: expected an integer, got {value!r}") from None
        if isinstance(value, bool) or out < lo or (hi is not None and out > hi):
            raise ConfigError(f"{path}: must be between {lo} and {hi if hi is not None else 'inf'}")
        return out
    return conv


def fraction(value: Any, path: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: expected a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= out <= 1.0:
        raise ConfigError(f"{path}: must be between 0 and 1")
    return out


def text(value: Any, path: str) -> str:
    return str(value)


def str_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: expected a list of names")
    return list(value)


def str_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping of strings")
    return {str(k): str(v) for k, v in value.items()}


def existing_file(value: Any, path: str) -> str:
    s = str(value)
    if not os.path.isfile(s):
        raise ConfigError(f"{path}: file not found: {s}")
    return s


def component_type(name: str) -> str:
    """The type of a component id: ``otlp_grpc/jaeger`` -> ``otlp_grpc``."""
    return name.split("/", 1)[0]
