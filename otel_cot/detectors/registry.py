"""Which detectors run: the built-ins, plugins from the ``otel_cot.detectors`` entry-point group, rule
packs from paths, and a config file that picks among them.

Config file (YAML; the ``detectors`` section of an otel-cot config file, or the whole file)::

    detectors:
      builtin: true                 # the built-in detectors (default true)
      entry_points: true            # installed plugins (default true)
      disable: [cot.deception]      # detector ids to leave out
      rule_packs: [./my-rules.yaml] # extra YAML rule packs (paths relative to the config file)
      plugins: ["my_pkg.detectors:make_detectors"]  # import paths, like entry points

An entry point (or a ``plugins`` item) names a detector instance, a detector class, or a callable that
returns one detector or a list of them. ``OTEL_COT_DETECTOR_RULES`` (paths separated by ``os.pathsep``)
adds rule packs without a config file.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from typing import Any, Iterable, Mapping, Sequence

import yaml

from .base import Detector
from .rules import builtin_rule_packs, load_rule_pack

logger = logging.getLogger("otel_cot.detectors")

ENTRY_POINT_GROUP = "otel_cot.detectors"
RULES_ENV = "OTEL_COT_DETECTOR_RULES"


def builtin_detectors() -> list[Detector]:
    from .deception import DeceptionDetector
    from .destructive import DestructiveActionDetector
    from .injection import PromptInjectionDetector
    from .reward_hacking import RewardHackingDetector
    from .secret_exposure import SecretExposureDetector

    return [
        PromptInjectionDetector(),
        DestructiveActionDetector(),
        SecretExposureDetector(),
        RewardHackingDetector(),
        DeceptionDetector(),
        *builtin_rule_packs(),
    ]


def _as_detectors(obj: Any, name: str) -> list[Detector]:
    if isinstance(obj, type):
        obj = obj()
    elif callable(obj) and not isinstance(obj, Detector):
        obj = obj()
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    out = []
    for item in items:
        if isinstance(item, Detector):
            out.append(item)
        else:
            logger.warning("plugin %s gave %r, which is not a detector (needs id, version, categories, detect)",
                           name, item)
    return out


def entry_point_detectors() -> list[Detector]:
    out: list[Detector] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            out.extend(_as_detectors(ep.load(), ep.name))
        except Exception:
            logger.exception("could not load detector plugin %s (%s)", ep.name, ep.value)
    return out


def import_detectors(path: str) -> list[Detector]:
    """``"package.module:attribute"`` → detectors."""
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return _as_detectors(obj, path)


def load_detectors(config: Mapping[str, Any] | None = None, base_dir: str = ".") -> list[Detector]:
    """The detectors a config section selects (see the module docstring); defaults when ``None``."""
    cfg = dict(config or {})
    detectors: list[Detector] = []
    if cfg.get("builtin", True):
        detectors.extend(builtin_detectors())
    if cfg.get("entry_points", True):
        detectors.extend(entry_point_detectors())
    packs: list[str] = [os.path.join(base_dir, p) for p in cfg.get("rule_packs") or ()]
    packs.extend(p for p in os.environ.get(RULES_ENV, "").split(os.pathsep) if p)
    for pack in packs:
        detectors.append(load_rule_pack(pack))
    for plugin in cfg.get("plugins") or ():
        detectors.extend(import_detectors(str(plugin)))
    disabled = set(cfg.get("disable") or ())
    return [d for d in detectors if d.id not in disabled]


def load_config_file(path: str) -> list[Detector]:
    """Detectors selected by a YAML config file (its ``detectors`` section, or the whole file)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    section = data.get("detectors", data) if isinstance(data, Mapping) else {}
    return load_detectors(section, base_dir=os.path.dirname(os.path.abspath(path)))


def default_detectors() -> list[Detector]:
    """Built-ins, installed plugins and ``OTEL_COT_DETECTOR_RULES`` packs."""
    return load_detectors(None)


def describe(detectors: Sequence[Detector]) -> Iterable[str]:
    for d in detectors:
        yield f"{d.id} v{d.version} ({', '.join(d.categories)})"
