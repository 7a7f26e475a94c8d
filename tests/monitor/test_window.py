"""The window the judge reads: everything when it fits; when not, the task, the actions, the final claims
and the reasoning nearest the actions, within the token bound."""

from __future__ import annotations

import json

from otel_cot.detectors.base import SpanView
from otel_cot.eval import trajectory_views
from otel_cot.monitor.window import (
    ACTION,
    FINAL,
    REASONING,
    RESULT,
    TASK,
    build_window,
    estimate_tokens,
)


def v(kind, text, span, tool=None):
    return SpanView(kind=kind, text=text, tool=tool, arguments=text if kind == "tool_call" else None,
                    trace_id="t", span_id=span)


def long_trace(steps=30, reasoning_words=400, result_words=600):
    views = [v("user", "Fix the failing test in parser.py. " * 5, "u")]
    for i in range(steps):
        views.append(v("reasoning", f"step {i} thinking " + "ponder " * reasoning_words + f"PLAN-{i}", f"r{i}"))
        views.append(v("tool_call", json.dumps({"command": f"run step {i}"}), f"c{i}", tool="bash"))
        views.append(v("tool_result", f"output {i} " + "line " * result_words, f"o{i}", tool="bash"))
    views.append(v("model_call", "All done: the test passes now.", "final"))
    return views


def test_estimate_tokens_counts_word_pieces_and_punctuation():
    assert estimate_tokens("") == 0
    assert estimate_tokens("The quick brown fox") == 4
    assert estimate_tokens("def foo(x): return x+1") == 9
    assert estimate_tokens("internationalisation") == 4  # long words are several pieces
    big = "word " * 100_000  # 500 KB: estimated from its start
    assert abs(estimate_tokens(big) - 100_000) < 1_000  # estimated from a sample, close


def test_a_short_trace_is_shown_whole_in_order():
    views = [v("user", "Add a README.", "1"), v("reasoning", "I will write it.", "2"),
             v("tool_call", '{"path": "README.md"}', "3", tool="write"), v("tool_result", "ok", "4", tool="write"),
             v("model_call", "Added README.md.", "5")]
    window = build_window(views, 2_000)
    assert [i.role for i in window.items] == [TASK, REASONING, ACTION, RESULT, FINAL]
    assert [i.number for i in window.items] == [1, 2, 3, 4, 5]
    assert window.omitted == 0 and all(i.cut == 0 for i in window.items)
    assert "=== [3] tool call: write ===\n{\"path\": \"README.md\"}" in window.text
    assert window.tokens == estimate_tokens(window.text)


def test_the_same_reasoning_on_two_spans_is_shown_once():
    views = [v("user", "go", "1"), v("reasoning", "the plan", "2"), v("reasoning", "the plan", "3"),
             v("model_call", "done", "3")]
    assert [i.view.span_id for i in build_window(views, 2_000).items] == ["1", "2", "3"]


def test_a_long_trace_stays_within_the_bound_and_keeps_what_matters():
    views = long_trace()
    total = sum(estimate_tokens(x.text) for x in views)
    for budget in (2_000, 6_000, 12_000):
        window = build_window(views, budget)
        assert total > 2 * budget
        assert window.tokens <= budget * 1.05, (budget, window.tokens)
        roles = [i.role for i in window.items]
        assert roles[0] == TASK and roles[-1] == FINAL
        shown_actions = [i.view.span_id for i in window.items if i.role == ACTION]
        assert shown_actions[-1] == "c29"  # the latest actions are kept first
        assert any(i.cut for i in window.items)
        if budget < 12_000:
            assert window.omitted > 0 and "not shown" in window.text
    window = build_window(views, 12_000)
    assert len([i for i in window.items if i.role == ACTION]) == 30  # every action fits at this size
    assert len([i for i in window.items if i.role == REASONING and "PLAN-" in i.text]) == 30  # with its plan


def test_reasoning_nearest_an_action_is_kept_and_cut_to_its_end():
    views = [v("user", "task", "u"),
             v("reasoning", "early musing " + "blah " * 3000, "r0"),
             v("tool_result", "old output " + "x " * 3000, "o0", tool="bash"),
             v("reasoning", "intro " + "filler " * 3000 + "so I will hard-code the expected value.", "r1"),
             v("tool_call", '{"command": "sed -i s/assert/pass/ test.py"}', "c1", tool="bash"),
             v("model_call", "Tests pass.", "f")]
    window = build_window(views, 1_500)
    kept = {i.view.span_id: i for i in window.items}
    assert "r1" in kept and "c1" in kept and "f" in kept and "u" in kept
    assert kept["r1"].text.endswith("so I will hard-code the expected value.")  # the plan, next to the action
    assert kept["r1"].cut > 0 and "characters cut" in kept["r1"].text
    assert "r0" not in kept or kept["r0"].cut >= kept["r1"].cut  # the far reasoning gives way first


def test_locating_a_quote_ignores_whitespace_and_prefers_the_named_item():
    views = [v("user", "do   it\nnow", "1"), v("reasoning", "I'll special-case\n the input", "2"),
             v("model_call", "I'll special-case the input", "3")]
    window = build_window(views, 2_000)
    assert window.locate("special-case the input", 2).view.span_id == "2"
    assert window.locate("special-case the input").view.span_id == "3"
    assert window.locate('"do it now"').view.span_id == "1"
    assert window.locate("...special-case the input…", 3).view.span_id == "3"
    assert window.locate("something never said") is None


def test_text_cut_out_of_the_window_cannot_be_quoted():
    views = [v("user", "task", "u"), v("tool_result", "START " + "filler " * 5000 + " HIDDEN-MIDDLE " +
                                       "filler " * 5000, "o", tool="fetch"),
             v("tool_call", "{}", "c", tool="bash")]
    window = build_window(views, 1_000)
    assert window.locate("HIDDEN-MIDDLE") is None


def test_windows_from_trajectories_and_their_keys():
    trajectory = {"id": "x", "steps": [{"kind": "user", "text": "Sort the list."},
                                       {"kind": "reasoning", "text": "Use sorted()."},
                                       {"kind": "tool_call", "tool": "python", "arguments": {"code": "sorted(a)"}},
                                       {"kind": "assistant", "text": "Sorted."}]}
    tid, views = trajectory_views(trajectory)
    window = build_window(views, 2_000)
    assert window.trace_id == tid
    assert '{"code": "sorted(a)"}' in window.text
    assert window.items[2].view.span_id == format(3, "016x")
    assert build_window(views, 2_000).key == window.key
    assert build_window(views[:-1], 2_000).key != window.key
    assert not build_window(views[:1], 2_000).judgeable and window.judgeable
