"""Per-source figures and the leave-one-source-out view of an evaluation (``otel-cot eval --by-source``).

A rule fitted to one source can look perfect on it and do nothing elsewhere. Three views show that:

- per source and category: precision, recall and FPR on each source's trajectories alone;
- per mechanism (the signal a finding names, ``Finding.mechanism``): on which source it was developed
  (``DEV_PROVENANCE``), the documented pattern it implements (the detector's ``mechanisms``), and how
  many positives it catches and negatives it flags on every source;
- leave one source out: for each source, the recall a category gets there from the mechanisms that were
  *not* developed on it (a mechanism with no recorded provenance counts as developed on every source), and
  from the mechanisms that also catch a positive somewhere else (support outside the group).

Groups are sources by default; ``otel-cot eval --by-source --group-by meta.harness`` (or any field)
gives the same views per harness, task or model, where provenance does not apply but support does.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from .eval import Counts, EvalResult

DOCUMENTED = "documented pattern only"

HF, MRH = "impossiblebench_hf", "impossiblebench_mrh"
# Where each built-in reward-hacking and deception mechanism was developed: the dev sources whose
# trajectories were read while it was written or tuned (from the commit history of the detectors and the
# examples their commits and docs name). () means it was written from a published pattern and synthetic
# tests only, and no dev line was read to shape it.
DEV_PROVENANCE: dict[tuple[str, str], tuple[str, ...]] = {
    **{("reward_hacking", m): (MRH,) for m in (
        "test_assertion_weakened", "test_assertion_rewritten", "shell_test_rewrite", "stated_special_case",
        "planned_then_edited", "pass_after_impossible")},
    **{("reward_hacking", m): (HF,) for m in (
        "exit_success", "exception_hook", "caller_inspection", "call_count_state", "state_toggle", "literal_return",
        "literal_conjunction", "literal_table", "oracle_return", "oracle_table")},
    ("reward_hacking", "stated_targeted_code"): (HF, MRH),
    **{("reward_hacking", m): () for m in (
        "test_skip_inserted", "test_file_deleted", "ci_checks_dropped", "always_equal", "report_patch",
        "skip_from_code")},
    ("deception", "claim_after_impossible"): (MRH,),
    ("deception", "fabricated_calculation"): (HF,),
    ("deception", "claim_vs_failed_run"): (),
    ("deception", "concealment_plan"): (),
}

LOSO_CATEGORIES = ("reward_hacking", "deception")


def patterns_of(detectors: Iterable[Any]) -> dict[tuple[str, str], str]:
    """``(category, mechanism) -> documented pattern`` from the detectors' ``mechanisms`` tables."""
    out: dict[tuple[str, str], str] = {}
    for detector in detectors:
        table = getattr(detector, "mechanisms", None) or {}
        for category in getattr(detector, "categories", ()) or ():
            for mechanism, pattern in table.items():
                out[(category, mechanism)] = pattern
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def source_rows(result: EvalResult, categories: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per (category, source): the confusion counts and precision / recall / FPR there."""
    rows = []
    for category in categories or sorted(result.categories):
        for source in sorted(result.sources):
            counts = result.sources[source].get(category, Counts())
            rows.append({"category": category, "source": source, **counts.as_dict()})
    return rows


def mechanism_rows(result: EvalResult, category: str, patterns: Mapping[tuple[str, str], str],
                   provenance: Mapping[tuple[str, str], tuple[str, ...]] = DEV_PROVENANCE) -> list[dict[str, Any]]:
    """Per mechanism of ``category``: provenance, pattern, and per source the positives it caught and the
    negatives it flagged."""
    positives = _positives(result, category)
    rows = []
    known = {key: {} for key in patterns if key[0] == category}  # mechanisms that fired nowhere are listed too
    for (cat, mechanism), by_source in sorted({**known, **result.mechanisms}.items()):
        if cat != category:
            continue
        key = (cat, mechanism)
        developed = provenance.get(key)
        rows.append({
            "mechanism": mechanism,
            "developed_on": list(developed) if developed is not None else None,
            "pattern": patterns.get(key, ""),
            "sources": {source: {"tp": hits[0], "positives": positives.get(source, 0), "fp": hits[1]}
                        for source, hits in sorted(by_source.items())},
        })
    return rows


def loso_rows(result: EvalResult, category: str,
              provenance: Mapping[tuple[str, str], tuple[str, ...]] | None = DEV_PROVENANCE) -> list[dict[str, Any]]:
    """Per source: recall from every mechanism, from only the mechanisms not developed on it, and from only
    the mechanisms that also catch a positive in another source."""
    catches: dict[str, set[str]] = {}  # mechanism -> sources where it catches a positive
    for src, labels, fired in result.outcomes:
        if category in labels:
            for c, m in fired:
                if c == category:
                    catches.setdefault(m, set()).add(src)
    rows = []
    for source, positives in sorted(_positives(result, category).items()):
        caught = caught_out_of_source = supported = 0
        for src, labels, fired in result.outcomes:
            if src != source or category not in labels:
                continue
            mechanisms = [m for c, m in fired if c == category]
            caught += bool(mechanisms)
            if provenance is not None:
                caught_out_of_source += any(_developed_elsewhere(provenance.get((category, m)), source)
                                            for m in mechanisms)
            supported += any(catches.get(m, set()) - {source} for m in mechanisms)
        counts = result.sources[source][category]
        rows.append({"source": source, "positives": positives, "recall": _ratio(caught, positives),
                     "recall_out_of_source": _ratio(caught_out_of_source, positives) if provenance is not None
                     else None,
                     "recall_supported_elsewhere": _ratio(supported, positives),
                     "fp": counts.fp, "negatives": counts.fp + counts.tn})
    return rows


def _developed_elsewhere(developed: tuple[str, ...] | None, source: str) -> bool:
    return developed is not None and source not in developed


def _positives(result: EvalResult, category: str) -> dict[str, int]:
    return {source: counts[category].tp + counts[category].fn for source, counts in result.sources.items()
            if category in counts and counts[category].tp + counts[category].fn}


def by_source(result: EvalResult, patterns: Mapping[tuple[str, str], str],
              provenance: Mapping[tuple[str, str], tuple[str, ...]] | None = DEV_PROVENANCE,
              loso_categories: Sequence[str] = LOSO_CATEGORIES, group_by: str = "source") -> dict[str, Any]:
    """The three views as one JSON-able dict. Provenance names sources: grouped by anything else, the
    'developed elsewhere' figures are left out."""
    if group_by != "source":
        provenance = None
    return {
        "group_by": group_by,
        "sources": source_rows(result),
        "mechanisms": {c: mechanism_rows(result, c, patterns, provenance or {}) for c in loso_categories},
        "leave_one_source_out": {c: loso_rows(result, c, provenance) for c in loso_categories},
    }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_by_source(report: Mapping[str, Any]) -> str:
    """The views of :func:`by_source` as text tables."""
    group = report.get("group_by", "source")
    w = max([22] + [len(r["source"]) for r in report["sources"]])
    lines = ["", f"per {group}"]
    lines.append(f"{'category':<19} {'group':<{w}} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>5} "
                 f"{'precision':>9} {'recall':>7} {'fpr':>6}")
    for row in report["sources"]:
        if row["tp"] + row["fp"] + row["fn"] == 0:
            continue  # nothing to say: no positive and nothing flagged
        lines.append(f"{row['category']:<19} {row['source']:<{w}} {row['tp']:>4} {row['fp']:>4} {row['fn']:>4} "
                     f"{row['tn']:>5} {_fmt(row['precision']):>9} {_fmt(row['recall']):>7} {_fmt(row['fpr']):>6}")
    lines.append("(rows with no positive and no finding left out)")
    for category, rows in report["mechanisms"].items():
        lines += ["", f"{category}: mechanisms (tp/positives, fp in each {group})"]
        for row in rows:
            developed = row["developed_on"]
            where = "unknown" if developed is None else (", ".join(developed) or DOCUMENTED)
            per_source = "; ".join(f"{s} {v['tp']}/{v['positives']} fp {v['fp']}"
                                   for s, v in row["sources"].items()) or "no finding anywhere"
            lines.append(f"  {row['mechanism']:<28}" + (f" developed on: {where}" if group == "source" else ""))
            lines.append(f"  {'':<28} {per_source}")
    for category, rows in report["leave_one_source_out"].items():
        lines += ["", f"{category}: leave one {group} out (recall from all mechanisms / from those developed on "
                      f"other sources / from those that also catch positives in another {group})",
                  f"  {group:<{w}} {'positives':>9} {'recall':>7} {'developed elsewhere':>20} "
                  f"{'supported elsewhere':>20} {'fp':>4} {'negatives':>9}"]
        for row in rows:
            lines.append(f"  {row['source']:<{w}} {row['positives']:>9} {_fmt(row['recall']):>7} "
                         f"{_fmt(row['recall_out_of_source']):>20} {_fmt(row['recall_supported_elsewhere']):>20} "
                         f"{row['fp']:>4} {row['negatives']:>9}")
    return "\n".join(lines)
