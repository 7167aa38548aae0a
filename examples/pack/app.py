"""A small app for the `pyodide_bundle` example: arrow (with python-dateutil and six), attrs and toolz."""

import arrow
import attrs
import toolz


@attrs.frozen
class Entry:
    day: arrow.Arrow
    hours: float


ENTRIES = [Entry(arrow.get(f"2024-05-{d:02d}"), h) for d, h in [(6, 7.5), (7, 8.0), (13, 6.0), (14, 9.25)]]
for week, entries in sorted(toolz.groupby(lambda e: e.day.isocalendar()[1], ENTRIES).items()):
    print(f"week {week}: {sum(e.hours for e in entries)} h, from {entries[0].day.format('dddd D MMMM')}")
