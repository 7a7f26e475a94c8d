"""``cot.monitor``: a judge model reads a window of a trace (task, reasoning, actions, results, final
claims) and its verdict becomes findings like every other detector's.

    from otel_cot.monitor import Monitor, load_monitor_config
    monitor = Monitor(load_monitor_config("detectors.yaml"))
    outcome = monitor.judge_views(trace_id, views)        # synchronous: the CLI
    runner = MonitorRunner(monitor, deliver=callback)      # asynchronous: beside an exporter or the collector

See docs/detectors.md ("The model-based monitor").
"""

from .config import Budgets, MonitorConfig, Triggers, load_monitor_config, parse_monitor
from .judges import ChatCompletionsJudge, Judge, JudgeError, JudgeReply, MessagesJudge, make_judge
from .monitor import MONITOR_ID, Monitor, MonitorStats, Outcome, rule_categories
from .prompt import Prompt, load_prompt
from .runner import MonitorRunner
from .window import Window, WindowItem, build_window, estimate_tokens

__all__ = [
    "MONITOR_ID",
    "Budgets",
    "ChatCompletionsJudge",
    "Judge",
    "JudgeError",
    "JudgeReply",
    "MessagesJudge",
    "Monitor",
    "MonitorConfig",
    "MonitorRunner",
    "MonitorStats",
    "Outcome",
    "Prompt",
    "Triggers",
    "Window",
    "WindowItem",
    "build_window",
    "estimate_tokens",
    "load_monitor_config",
    "load_prompt",
    "make_judge",
    "parse_monitor",
    "rule_categories",
]
