"""Channel names → the six channel classes (SPEC §3.2): ``[channels]`` in kpi.toml over the defaults.

Spend rows, ``customers.channel`` and ``traffic.channel`` carry whatever the exports call a
channel (``google_ads``, ``Paid Search``, ``cpc``). Classes decide ``--cac-basis paid`` and
``paid_share``. Names are matched trimmed, case-insensitively, with spaces, ``_`` and ``-`` alike
(``Paid Search`` = ``paid_search``). The order: a ``[channels]`` line, then the default names
(GA4's default channel groups, the six class names, common ``utm_medium`` values), then the
paid ``utm_medium`` pattern; a name none of them knows is ``other``. A blank channel has no class
(the group ``(unattributed)``), never ``organic``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

CLASSES = ("paid", "organic", "referral", "direct", "email", "other")
UNATTRIBUTED = "(unattributed)"
# utm_medium values of bought media (research §1.10; GA4's paid rules use the same mediums).
PAID_PATTERN = r"^(cpc|ppc|paid.*|display|cpm)$"

# GA4 default channel groups (https://support.google.com/analytics/answer/9756891). Affiliates
# (commission), SMS, push and Audio are not one of the five named classes: they are "other".
GA4 = {
    "paid search": "paid", "paid social": "paid", "paid shopping": "paid", "paid video": "paid",
    "paid other": "paid", "display": "paid", "cross network": "paid",
    "organic search": "organic", "organic social": "organic", "organic video": "organic",
    "organic shopping": "organic",
    "referral": "referral", "email": "email", "direct": "direct",
    "affiliates": "other", "sms": "other", "audio": "other", "mobile push notifications": "other",
    "unassigned": "other",
}
# utm_medium values GA4 reads as one class, and the class names themselves.
MEDIUMS = {"organic": "organic", "referral": "referral", "e mail": "email", "newsletter": "email",
           "(none)": "direct", "(direct)": "direct", "none": "direct", "affiliate": "other"}
DEFAULTS: dict[str, str] = {**GA4, **MEDIUMS, **{c: c for c in CLASSES}}


def key(name: str) -> str:
    """A channel name as matched: trimmed, lower case, runs of spaces, ``_`` and ``-`` as one space.

    Examples
    --------
    >>> key("  Paid_Search ")
    'paid search'
    """
    return re.sub(r"[\s_-]+", " ", name.strip().lower()).strip()


@dataclass(frozen=True)
class ChannelMap:
    """The configured ``[channels]`` lines (by :func:`key`) over :data:`DEFAULTS`."""

    lines: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, Any] | None) -> ChannelMap:
        """Read ``[channels]``; a value that is not one of the six classes is a usage error."""
        lines: dict[str, str] = {}
        for name, value in (table or {}).items():
            cls_name = str(value).strip().lower() if isinstance(value, str) else None
            if cls_name not in CLASSES:
                msg = f"[channels] {name} = {value!r} is not a channel class"
                raise UsageError(msg, hint=f'use one of {", ".join(CLASSES)}, e.g. {name} = "paid"')
            lines[key(str(name))] = cls_name
        return cls(lines)

    def classify(self, name: str | None) -> str | None:
        """The class of channel ``name`` (None for a blank channel).

        Examples
        --------
        >>> m = ChannelMap.from_table({"google_ads": "paid"})
        >>> [m.classify(n) for n in ("Google Ads", "Paid Social", "cpc", "content", " ", None)]
        ['paid', 'paid', 'paid', 'other', None, None]
        """
        if name is None or not name.strip():
            return None
        k = key(name)
        if k in self.lines:
            return self.lines[k]
        if k in DEFAULTS:
            return DEFAULTS[k]
        return "paid" if re.match(PAID_PATTERN, k.replace(" ", "_")) else "other"

    def expr(self, column: str) -> pl.Expr:
        """Polars expression: the class of each value of ``column`` (null for a blank one).

        The few distinct names are classified in Python; rows look their class up.
        """
        import polars as pl

        col = pl.col(column).cast(pl.String)
        return col.map_batches(lambda s: self._series(s), return_dtype=pl.String)

    def _series(self, values: pl.Series) -> pl.Series:
        import polars as pl

        names = values.unique().drop_nulls().to_list()
        found = {n: self.classify(n) for n in names}
        return values.replace_strict(found, default=None, return_dtype=pl.String) if found else \
            pl.Series(values.name, [None] * len(values), dtype=pl.String)

    def unmapped(self, names: list[str]) -> list[str]:
        """Names that fall to ``other`` only because nothing names them (for a note at ``-v``)."""
        out = []
        for n in sorted({n.strip() for n in names if n and n.strip()}):
            k = key(n)
            if k not in self.lines and k not in DEFAULTS and not re.match(PAID_PATTERN, k.replace(" ", "_")):
                out.append(n)
        return out
