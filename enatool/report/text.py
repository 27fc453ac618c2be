"""Plain-text rendering of nested report records: one titled block per section,
`key  value` lines aligned, lists and small dicts kept on one line, under 80 columns."""

from __future__ import annotations


def _scalar(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_scalar(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={_scalar(v)}" for k, v in value.items()) if value else "-"
    return str(value)


def _lines(record: dict, indent: int) -> list[str]:
    flat = {k: v for k, v in record.items() if not (isinstance(v, dict) and len(v) > 4)}
    width = max((len(str(k)) for k in flat), default=0)
    out = []
    for key, value in record.items():
        if isinstance(value, dict) and len(value) > 4:
            out.append(" " * indent + f"{key}:")
            out.extend(_lines(value, indent + 2))
        else:
            out.append(" " * indent + f"{str(key).ljust(width)}  {_scalar(value)}")
    return out


def render_sections(report: dict, skip: tuple[str, ...] = ("schema_version",)) -> str:
    """Top-level dict values become titled sections; scalars go in a leading block."""
    head = {k: v for k, v in report.items() if k not in skip and not isinstance(v, dict)}
    blocks = [_lines(head, 0)] if head else []
    for key, value in report.items():
        if key in skip or not isinstance(value, dict):
            continue
        blocks.append([f"{key}:"] + (_lines(value, 2) if value else ["  (none)"]))
    return "\n\n".join("\n".join(block) for block in blocks)
