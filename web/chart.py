"""The month chart as inline SVG: patients reaching each code, day by day (no script, no CDN).

Built as text with every interpolated value a number or escaped, so it can be inserted into
the page as markup.
"""

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from service.dashboard import CodeSeries

WIDTH, HEIGHT = 780, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 210, 16, 34


@dataclass(frozen=True)
class Series:
    code: str
    label: str
    color: str
    counts: tuple[int, ...]


def series_of(data: CodeSeries) -> list[Series]:
    return [
        Series("99470", "99470 (10-19 min)", "#d08a00", data.at_99470),
        Series("99457", "99457 (20+ min)", "#1f7a4d", data.at_99457),
        Series("99458", "99457 + 99458 (40+ min)", "#2f5fb3", data.with_99458),
    ]


def _y_ticks(top: int) -> list[int]:
    step = max(1, -(-top // 5))
    return list(range(0, top + 1, step)) + ([] if top % step == 0 else [top])


def _x_ticks(days_in_month: int) -> list[int]:
    return [1] + [d for d in range(5, days_in_month + 1, 5)]


def svg(data: CodeSeries, days_in_month: int, title: str) -> str:
    """Step lines per code over the days of the month, with axes, ticks and a legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(data.patients, 1)

    def x(day: float) -> float:
        return LEFT + (day - 1) / max(days_in_month - 1, 1) * plot_w

    def y(count: float) -> float:
        return TOP + plot_h - count / top * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-label="{escape(title)}" data-patients="{data.patients}" '
             f'data-days="{len(data.days)}">', f"<title>{escape(title)}</title>"]
    for tick in _y_ticks(top):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" '
                     f'y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    for day in _x_ticks(days_in_month):
        parts.append(f'<text class="tick" x="{x(day):.1f}" y="{TOP + plot_h + 16}" '
                     f'text-anchor="middle">{day}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" '
                 f'y2="{TOP + plot_h}"/><line class="axis" x1="{LEFT}" x2="{LEFT}" '
                 f'y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" '
                 f'text-anchor="middle">day of the month</text>')
    parts.append(f'<text class="axis-label" transform="rotate(-90)" x="{-(TOP + plot_h / 2):.1f}"'
                 f' y="12" text-anchor="middle">patients</text>')
    if 0 < len(data.days) < days_in_month:  # the current month: mark where today is
        today = x(data.days[-1])
        parts.append(f'<line class="today" x1="{today:.1f}" x2="{today:.1f}" y1="{TOP}" '
                     f'y2="{TOP + plot_h}" stroke-dasharray="4 3"/><text class="tick" '
                     f'x="{today + 4:.1f}" y="{TOP + 10}">today</text>')
    for index, line in enumerate(series_of(data)):
        parts.append(_step_line(line, data.days, x, y))
        ly = TOP + 10 + index * 22
        parts.append(f'<line x1="{WIDTH - RIGHT + 14}" x2="{WIDTH - RIGHT + 34}" y1="{ly}" '
                     f'y2="{ly}" stroke="{line.color}" stroke-width="3"/>'
                     f'<text class="legend" x="{WIDTH - RIGHT + 40}" y="{ly + 4}">'
                     f'{escape(line.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _step_line(line: Series, days: tuple[int, ...], x: Callable[[float], float],
               y: Callable[[float], float]) -> str:
    counts = ",".join(str(c) for c in line.counts)
    if not days:
        return f'<g class="series" data-code="{line.code}" data-counts=""></g>'
    points = [(x(days[0]), y(line.counts[0]))]
    for day, previous, count in zip(days[1:], line.counts, line.counts[1:], strict=False):
        points.append((x(day), y(previous)))
        points.append((x(day), y(count)))
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return (f'<g class="series" data-code="{line.code}" data-counts="{counts}">'
            f'<polyline fill="none" stroke="{line.color}" stroke-width="2.5" '
            f'stroke-linejoin="round" points="{path}"/></g>')
