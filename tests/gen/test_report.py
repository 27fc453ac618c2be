"""Live stats line (< 80 columns, TTY only unless forced), CSV rows, JSON schema fields."""

from __future__ import annotations

import csv
import io
import json

import pytest

from enatool.report import schema
from enatool.report.csvout import CsvSeries
from enatool.report.stats import LiveStats, format_line, interval_row, si, summary_lines
from tests.gen.loopback import LoopbackBackend

pytestmark = pytest.mark.nojit


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _snap(t, packets, queues):
    return {"t": t, "packets": packets, "bytes": packets * 60,
            "wire_bits": packets * 84 * 8, "drops": 3, "errors": 1, "queues": queues}


def test_si():
    assert si(14_880_952, "pps") == "14.88Mpps"
    assert si(999) == "999" and si(123_456) == "123.5k" and si(1e10, "b/s") == "10.00Gb/s"


def test_interval_row_and_line_width():
    prev = _snap(1.0, 1_000_000, {0: 500_000, 1: 500_000})
    cur = _snap(2.0, 15_880_952, {0: 7_940_476, 1: 7_940_476})
    row = interval_row(prev, cur)
    assert row["packets"] == 14_880_952 and row["pps"] == pytest.approx(14_880_952)
    assert row["wire_bps"] == pytest.approx(14_880_952 * 672)
    assert row["queues"][0] == pytest.approx(7_440_476)
    line = format_line(row)
    assert "14.88Mpps" in line and "10.00Gb/s" in line and "q1 7.44M" in line
    assert len(line) < 80
    many = {q: 1_000_000 * q for q in range(32)}
    line = format_line(interval_row(None, _snap(1.0, 10**9, many)))
    assert len(line) < 80 and line.rstrip().endswith("q")  # "+Nq" marks the rest
    sink_row = interval_row(None, {**_snap(1.0, 10, {0: 10}), "lost": 2, "reordered": 1,
                                   "duplicates": 0})
    assert "lost 2" in format_line(sink_row) and "reord 1" in format_line(sink_row)


def test_live_stats_only_on_a_tty_or_forced():
    quiet = io.StringIO()
    ls = LiveStats(quiet)
    ls.start("gen: sending on loopback q0")
    ls(_snap(1.0, 100, {0: 100}))
    assert quiet.getvalue() == "" and ls.rows == 1
    tty = _Tty()
    ls = LiveStats(tty)
    ls.start("gen: sending on loopback q0")
    ls(_snap(1.0, 100, {0: 100}))
    ls(_snap(2.0, 300, {0: 300}))
    lines = tty.getvalue().splitlines()
    assert lines[0].endswith("Ctrl-C to stop.") and len(lines) == 3
    assert all(len(ln) < 80 for ln in lines)
    forced = io.StringIO()
    LiveStats(forced, force=True)(_snap(1.0, 5, {0: 5}))
    assert forced.getvalue().count("\n") == 1


def test_csv_rows_one_per_interval(tmp_path):
    path = tmp_path / "gen.csv"
    with CsvSeries(str(path), queues=[0, 3]) as out:
        ls = LiveStats(io.StringIO(), csv=out)
        for t in (1.0, 2.0, 2.5):
            ls(_snap(t, int(t * 1000), {0: int(t * 500), 3: int(t * 500)}))
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    assert list(rows[0]) == ["t_s", "interval_s", "packets", "bytes", "wire_bits", "pps",
                             "wire_bps", "drops", "errors", "q0_pps", "q3_pps"]
    assert rows[2]["interval_s"] == "0.5" and float(rows[2]["pps"]) == 1000.0
    assert float(rows[1]["q3_pps"]) == 500.0


def test_gen_and_sink_summaries_follow_the_schema():
    from enatool.gen.program import run_gen, run_sink
    from enatool.gen.templates import GenSpec

    be = LoopbackBackend()
    g = run_gen(be, GenSpec(size="200"), count=50)
    s = run_sink(be, GenSpec(size="200"), count=50)
    for doc, prog in ((g, "gen"), (s, "sink")):
        assert schema.missing_fields(doc, prog) == []
        assert doc["schema_version"] == schema.SCHEMA_VERSION and doc["program"] == prog
        json.dumps(doc)  # plain JSON types only
        assert all(len(ln) < 80 for ln in summary_lines(doc))
    assert set(schema.GenSummary.__annotations__) == set(schema.GEN_FIELDS)
    assert set(schema.SinkSummary.__annotations__) == set(schema.SINK_FIELDS)
    assert s["one_way_delay"]["count"] == 50
