"""``otel-cot hooks``: install the guard into an agent's hooks, and run or stop the checker.

    otel-cot hooks install claude-code [--user | --project DIR | --settings FILE] [--policy FILE]
    otel-cot hooks uninstall claude-code [--user | --project DIR | --settings FILE]
    otel-cot hooks status                 where the hooks are installed; whether the checker runs
    otel-cot hooks stop                   stop the checker (the next hook call starts it again)
    otel-cot hooks serve                  run the checker in the foreground
    otel-cot hooks run AGENT EVENT --policy FILE < input.json    answer one hook call in this process
"""

from __future__ import annotations

import argparse
import os
import sys

AGENT_CHOICES = ("claude-code", "codex", "gemini-cli")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hooks", help="stop a Claude Code / Codex / Gemini CLI tool call before it runs: the guard "
                                     "in the agent's hooks")
    hooks = p.add_subparsers(dest="hooks_command", required=True)

    for name, help_text in (("install", "merge the otel-cot hooks into the agent's settings"),
                            ("uninstall", "take the otel-cot hooks out of the agent's settings")):
        q = hooks.add_parser(name, help=help_text)
        q.add_argument("agent", choices=AGENT_CHOICES)
        where = q.add_mutually_exclusive_group()
        where.add_argument("--user", action="store_true", help="the user's settings (the default)")
        where.add_argument("--project", metavar="DIR", help="the project's settings under DIR")
        where.add_argument("--settings", metavar="FILE", help="this settings file")
        if name == "install":
            q.add_argument("--policy", metavar="FILE",
                           help="guard policy file (default ~/.config/otel-cot/hooks-policy.yaml; written with the "
                                "default policy if missing)")
        q.set_defaults(func=cmd_install if name == "install" else cmd_uninstall)

    q = hooks.add_parser("status", help="where the hooks are installed, and whether the checker runs")
    q.add_argument("--project", metavar="DIR", help="also look at the project's settings under DIR")
    q.set_defaults(func=cmd_status)
    q = hooks.add_parser("stop", help="stop the checker")
    q.set_defaults(func=cmd_stop)
    q = hooks.add_parser("serve", help="run the checker in the foreground")
    q.add_argument("--idle", type=float, metavar="SECONDS", help="exit after this long without a call")
    q.set_defaults(func=cmd_serve)
    q = hooks.add_parser("run", help="answer one hook call from stdin in this process (no checker)")
    q.add_argument("agent", choices=AGENT_CHOICES + ("claude_code", "gemini_cli"))
    q.add_argument("event")
    q.add_argument("--policy", metavar="FILE", default="")
    q.set_defaults(func=cmd_run)


def _settings(args: argparse.Namespace, agent: str) -> str:
    from .install import AGENTS

    if args.settings:
        return os.path.abspath(args.settings)
    return AGENTS[agent].settings_path(project=os.path.abspath(args.project) if args.project else None)


def cmd_install(args: argparse.Namespace) -> int:
    from .install import SettingsError, default_policy_path, ensure_policy, install, read_settings
    from .protocol import agent_of

    agent = agent_of(args.agent)
    policy = os.path.abspath(os.path.expanduser(args.policy)) if args.policy else default_policy_path()
    settings = _settings(args, agent)
    try:
        read_settings(settings)  # refuse before anything is written
        wrote_policy = ensure_policy(policy)
        result = install(agent, settings, policy)
    except SettingsError as exc:
        print(f"otel-cot hooks: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"otel-cot hooks: cannot write {exc.filename or settings}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    state = "installed into" if result.changed else "already installed in"
    print(f"otel-cot hooks: {state} {settings}")
    print(f"otel-cot hooks: policy {policy}{' (the default, written now: edit it)' if wrote_policy else ''}")
    if agent == "codex":
        print("otel-cot hooks: Codex runs a new or changed hook only once you trust it: open /hooks in Codex")
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from .install import SettingsError, uninstall
    from .protocol import agent_of

    agent = agent_of(args.agent)
    settings = _settings(args, agent)
    try:
        result = uninstall(agent, settings)
    except SettingsError as exc:
        print(f"otel-cot hooks: {exc}", file=sys.stderr)
        return 2
    if result.restored:
        print(f"otel-cot hooks: {settings} restored as it was before the install")
    elif result.changed:
        print(f"otel-cot hooks: removed from {settings} (the rest of the file is kept)")
    else:
        print(f"otel-cot hooks: not installed in {settings}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import client
    from .install import AGENTS, installed

    project = os.path.abspath(args.project) if args.project else None
    for agent, spec in AGENTS.items():
        for scope in (None, project) if project else (None,):
            path = spec.settings_path(project=scope)
            events = installed(path)
            print(f"{agent:<12} {path}: {', '.join(events) if events else 'not installed'}")
    answer = _control("status")
    print(f"checker: {answer.strip() if answer else 'not running'} ({client.socket_path()})")
    return 0


def _control(command: str) -> str | None:
    from . import client

    try:
        sock = client.open_connection(client.socket_path(), 1.0)
    except OSError:
        return None
    try:
        _code, out, err = client.ask_checker(sock, "-", command, "", b"", 5.0)
    except (OSError, client.CheckerError):
        return None
    finally:
        sock.close()
    return (out or err).decode("utf-8", "replace")


def cmd_stop(_args: argparse.Namespace) -> int:
    answer = _control("stop")
    print("otel-cot hooks: checker stopped" if answer else "otel-cot hooks: no checker running")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from .server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s otel-cot checker %(message)s")
    return serve(idle_s=args.idle)


def cmd_run(args: argparse.Namespace) -> int:
    from .protocol import agent_of
    from .server import build_exporter
    from .service import HookService

    exporter = build_exporter()
    service = HookService(exporter=exporter, export=exporter is not None)
    try:
        code, out, err = service.handle(agent_of(args.agent), args.event, args.policy, sys.stdin.buffer.read())
    finally:
        service.close()
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return code
