"""Sentence material of the XBRL tagging environment: templates, companies, periods, values.

A sentence is a *template* (a frame with its own verb between each cue and its number) filled
with a company, a period, one to four mentions ``cue <verb> [#k value]`` and optional
distractor numbers (counts of employees, stores...) that are not tagged. The template is the
unit the evaluation split holds out. No word of a template, company, period or distractor is a
cue phrasing, so the words in front of a marked number decide its label (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.xbrl.labels import Unit


@dataclass(frozen=True)
class Template:
    """A sentence frame: ``{company}``, ``{period}`` and ``{mentions}`` slots, and the verb
    written between each cue and its number ("of", "was", ":" ...)."""

    id: str
    frame: str
    verb: str


_FRAMES = (
    ("For {period}, {company} reported {mentions}.", "of"),
    ("{company} posted {mentions} in {period}.", "of"),
    ("In {period}, {company} recorded {mentions}.", "of"),
    ("{company} said its {mentions} for {period}.", "was"),
    ("During {period}, {mentions} at {company}.", "came to"),
    ("{company} disclosed {mentions} for {period}.", "of"),
    ("{company} ended {period} with {mentions}.", "of"),
    ("For {period}, {mentions} at {company}, the filing states.", "stood at"),
    ("{company} noted that in {period} {mentions}.", "totaled"),
    ("{company} reports for {period}: {mentions}.", ":"),
    ("{mentions}, {company} stated for {period}.", "amounted to"),
    ("{company} booked {mentions} over {period}.", "of"),
    ("Over {period}, {company} showed {mentions}.", "of"),
    ("{company} announced {mentions} for {period}.", "of"),
    ("In {period}, the {company} filing lists {mentions}.", "at"),
    ("{company} logged {mentions} during {period}.", "of"),
    ("Management at {company} highlighted {mentions} for {period}.", "of"),
    ("According to {company}, in {period} {mentions}.", "was"),
    ("{company} confirmed that for {period} {mentions}.", "reached"),
    ("For {period}, {company} cited {mentions}.", "of"),
    ("Its statements for {period} show that at {company} {mentions}.", "equaled"),
    ("{company} released figures for {period}: {mentions}.", "came in at"),
    ("In {period}, {company} had {mentions}.", "of"),
    ("Filed figures for {period} put {company} at {mentions}.", "of"),
)
TEMPLATES: tuple[Template, ...] = tuple(
    Template(f"t{i:02d}", frame, verb) for i, (frame, verb) in enumerate(_FRAMES)
)

COMPANIES = (
    "Northwind Corp",
    "Blue Harbor Inc",
    "Apex Materials",
    "Cobalt Systems",
    "Granite Foods",
    "Silverline Group",
    "Redwood Labs",
    "Meridian Freight",
    "Orchid Health",
    "Polar Energy",
    "Summit Retail",
    "Tidewater Mills",
    "Vantage Software",
    "Willow Brands",
    "Keystone Motors",
    "Lumen Devices",
    "Harbor Point Media",
    "Ironwood Chemicals",
    "Juniper Networks Co",
    "Crescent Airlines",
    "Falcon Logistics",
    "Evergreen Utilities",
    "Nova Biotech",
    "Pioneer Steel",
    "Quarry Hill Mining",
    "Riverstone Hotels",
    "Sterling Textiles",
    "Trident Marine",
    "Union Paper",
    "Zenith Semiconductors",
    "Maple Grove Dairy",
    "Aurora Telecom",
)

_PERIODS = (
    "fiscal {y}",
    "the year ended December 31, {y}",
    "the quarter ended June 30, {y}",
    "the first quarter of {y}",
    "the nine months ended September 30, {y}",
    "the second half of {y}",
    "the fourth quarter of {y}",
)
YEARS = range(2015, 2025)

# Untagged numbers: a phrase and the range its number is drawn from.
_DISTRACTORS = (
    ("{:,} employees", 50, 90_000),
    ("{:,} stores", 3, 2_500),
    ("offices in {} countries", 2, 80),
    ("{:,} customers", 100, 50_000),
    ("{} plants", 2, 60),
    ("{:,} patents", 5, 3_000),
    ("{} distribution centers", 2, 40),
    ("a founding year of {}", 1890, 2011),
)


def period(rng: np.random.Generator) -> str:
    year = int(rng.integers(YEARS.start, YEARS.stop))
    return _PERIODS[int(rng.integers(len(_PERIODS)))].format(y=year)


def value(unit: Unit, rng: np.random.Generator) -> str:
    """A number as a filing writes it, in the label's unit and a random scale."""
    if unit is Unit.MONEY:
        scale = ("thousand", "million", "million", "billion")[int(rng.integers(4))]
        if scale == "billion":
            return f"${int(rng.integers(10, 400)) / 10:.1f} billion"
        return f"${int(rng.integers(10, 9990)) / 10:.1f} {scale}"
    if unit is Unit.PER_SHARE:
        return f"${int(rng.integers(1, 1000)) / 100:.2f}"
    if unit is Unit.SHARES:
        return f"{int(rng.integers(10, 3000)) / 10:g} million shares"
    if unit is Unit.PERCENT:
        return f"{int(rng.integers(5, 450)) / 10:.1f}%"
    return f"{int(rng.integers(2, 41))} years"


def distractors(count: int, rng: np.random.Generator) -> tuple[str, ...]:
    """``count`` different untagged numbers (counts, a year) to append to a sentence."""
    picks = rng.choice(len(_DISTRACTORS), size=count, replace=False)
    out = []
    for i in picks:
        phrase, low, high = _DISTRACTORS[int(i)]
        out.append(phrase.format(int(rng.integers(low, high))))
    return tuple(out)


def mention(cue: str, verb: str, number: int, shown_value: str) -> str:
    """One tagged mention: the cue, the template's verb and the marked number."""
    joint = ":" if verb == ":" else f" {verb}"
    return f"{cue}{joint} [#{number} {shown_value}]"


def join(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(
    template: Template, company: str, when: str, mentions: list[str], extra: tuple[str, ...]
) -> str:
    """The filled template, with the distractor numbers as a closing clause."""
    text = template.frame.format(company=company, period=when, mentions=join(mentions))
    if extra:
        text = text[:-1] + f"; it had {join(list(extra))}."
    return text[0].upper() + text[1:]
