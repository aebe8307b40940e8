"""The results as a Markdown table (printed and written) and as JSON (for comparing runs later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import Result


def _number(value: float, unit: str) -> str:
    if unit in ("points/s", "MB/s", "tasks/s", "lines/s") or value >= 1000:
        return f"{value:,.0f} {unit}"
    if value >= 100:
        return f"{value:.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: ""}[met]


def markdown(results: list[Result], meta: dict[str, Any]) -> str:
    head = [
        f"# Clearway benchmark ({'smoke' if meta['smoke'] else 'full'} run)",
        "",
        " | ".join(f"{k}: {v}" for k, v in meta.items() if k not in ("smoke", "notes")),
        "",
        "Each figure is the median of its samples; the reference beside it was measured in the same run."
        " Ratio = times better than the reference (above 1: Clearway is faster, lighter, or higher).",
        "",
        "| section | measure | Clearway | reference | reference value | ratio | target | met |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    rows = [
        "| "
        + " | ".join(
            [
                r.section,
                f"{r.name} ({r.note})" if r.note else r.name,
                _number(r.value, r.unit),
                r.reference or "",
                _number(r.reference_value, r.unit) if r.reference_value is not None else "",
                _ratio(r.ratio),
                r.target.label if r.target else "",
                _met(r.met),
            ]
        )
        + " |"
        for r in results
    ]
    notes = [f"- {note}" for note in meta.get("notes", [])]
    return "\n".join(head + rows + ([""] + notes if notes else [])) + "\n"


def write(results: list[Result], meta: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<stamp>.md`` and ``<stamp>.json`` (and ``latest.*`` copies) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = meta["date"].replace(":", "").replace("-", "")
    text = markdown(results, meta)
    data = json.dumps({"meta": meta, "results": [r.as_dict() for r in results]}, indent=2, default=str)
    paths = (out_dir / f"{stamp}.md", out_dir / f"{stamp}.json")
    for path, content in zip(paths, (text, data), strict=True):
        path.write_text(content)
        (out_dir / f"latest{path.suffix}").write_text(content)
    return paths
