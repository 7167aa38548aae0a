"""A small scheduling report: the app that examples/browser_app bundles and runs in the browser.

Uses arrow (with python-dateutil and six), attrs, toolz and idna from our recipes, and MarkupSafe's C extension
(`markupsafe._speedups`, compiled by its recipe for Pyodide 0.21.3).
Its output is deterministic, so the bundle's validation run can compare it with the trace run's.
"""

import arrow
import attrs
import idna
import markupsafe
import toolz
from markupsafe import _speedups


@attrs.frozen
class Meeting:
    title: str
    host: str
    start: arrow.Arrow
    minutes: int = attrs.field(validator=attrs.validators.gt(0))


MEETINGS = [
    Meeting("kick-off", "bücher.example", arrow.get("2024-03-04T09:00:00+01:00"), 45),
    Meeting("design review", "例え.テスト", arrow.get("2024-03-05T14:30:00+01:00"), 90),
    Meeting("retro", "münchen.example", arrow.get("2024-03-11T16:00:00+01:00"), 30),
    Meeting("planning", "bücher.example", arrow.get("2024-03-12T10:00:00+01:00"), 60),
]


def main() -> None:
    by_week = toolz.groupby(lambda m: m.start.isocalendar()[1], MEETINGS)
    for week, meetings in sorted(by_week.items()):
        total = sum(m.minutes for m in meetings)
        print(f"week {week}: {len(meetings)} meetings, {total} min")
        for m in sorted(meetings, key=lambda m: m.start):
            tokyo = m.start.to("+09:00")
            host = idna.encode(m.host).decode("ascii")
            print(f"  {m.start.format('ddd D MMM HH:mm')} ({tokyo.format('HH:mm ZZ')}) {m.title} @ {host}")
    first, last = MEETINGS[0].start, MEETINGS[-1].start
    print("span:", last.humanize(first, granularity="day"))
    print("titles as HTML:", markupsafe.escape(" & ".join(f"<{m.title}>" for m in MEETINGS)))
    print("escaped in C:", markupsafe.escape is _speedups.escape)
    print("hosts:", sorted(toolz.unique(m.host for m in MEETINGS)))


main()
