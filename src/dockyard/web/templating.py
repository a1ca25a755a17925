"""The Jinja2 environment of the pages and the filters they format values with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from dockyard.hub import markdown

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
_SPANS = ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"), (60, "minute"))


def human_size(size: int | None) -> str:
    """Decimal units, as docker prints them: 999 B, 2.1 MB, 153 MB."""
    if size is None:
        return "-"
    value, unit = float(size), 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f} {_UNITS[unit]}" if value < 100 else f"{value:.0f} {_UNITS[unit]}"


def relative_time(value: datetime | None, reference: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((reference or datetime.now(UTC)) - value).total_seconds())
    if abs(seconds) < 45:
        return "just now"
    for size, unit in _SPANS:
        if abs(seconds) >= size:
            n = abs(seconds) // size
            span = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"{span} ago" if seconds > 0 else f"in {span}"
    return "just now"


def exact_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when(value: datetime | None) -> Markup:
    """<time> with the relative time shown and the exact one in its title."""
    if value is None:
        return Markup("never")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.astimezone(UTC).isoformat(), exact_time(value), relative_time(value)
    )


def short_digest(digest: str) -> str:
    """sha256:0123456789abcdef... -> 0123456789ab, as Docker Hub shows it."""
    return digest.split(":", 1)[-1][:12]


def count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1000:.0f}K"
    return f"{value:,}"


def repository_url(name: str) -> str:
    """The page of a repository: /_/<name> for official images, /r/<namespace>/<name> otherwise."""
    namespace, short = name.split("/", 1)
    return f"/_/{short}" if namespace == "library" else f"/r/{name}"


def pull_name(name: str) -> str:
    """The name to pull by: official images without their library/ prefix."""
    namespace, short = name.split("/", 1)
    return short if namespace == "library" else name


def query_url(path: str, params: dict[str, object], **overrides: object) -> str:
    """``path`` with the query ``params`` updated by ``overrides`` (empty values and page 1 dropped)."""
    merged = {**params, **overrides}
    kept = {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v == 1)}
    query = urlencode(kept)
    return f"{path}?{query}" if query else path


def page_numbers(current: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: 1, the last, and ``around`` either side of the current
    one, with None where numbers are left out (shown as an ellipsis)."""
    shown = {1, pages, *range(max(1, current - around), min(pages, current + around) + 1)}
    numbers: list[int | None] = []
    previous = 0
    for n in sorted(shown):
        if n - previous > 1:
            numbers.append(None)
        numbers.append(n)
        previous = n
    return numbers


def pretty_json(value: object) -> str:
    """JSON for people: indented, non-ASCII as itself (the template escapes it for HTML)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_markdown(source: str) -> Markup:
    return Markup(markdown.render(source, demote=1))  # sanitized by nh3 inside; under the page's h1


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        size=human_size,
        ago=relative_time,
        exact=exact_time,
        when=when,
        short_digest=short_digest,
        count=count,
        markdown=render_markdown,
        pretty_json=pretty_json,
        compact_json=compact_json,
    )
    env.globals.update(
        repo_url=repository_url, pull_name=pull_name, query_url=query_url, page_numbers=page_numbers
    )
    return env
