"""Row rules of the ``surveys`` source (SPEC §1.3, §3.4), run on every load of it.

``score`` is read as text because exports write it in many ways: ``9``, ``9.0`` (a Parquet float
cast to text), ``10 - Extremely likely`` (Typeform, SurveyMonkey), ``4/5``, or Zendesk's binary
CSAT words ``Good`` / ``Bad``. The rules turn it into a whole number and reject what is not one
within its survey's scale: NPS 0–10, CSAT 1–5 (or Good/Bad), CES 1–7. ``--ces-scale 1-5`` is a run
option the rules cannot see, so the surveys family rejects CES 6–7 itself (``Dataset.reject``).

After the rules a good row has ``survey`` in ``nps``/``csat``/``ces``, ``score`` as Int64 and
``csat_scale``: ``"binary"`` for Good (score 1) / Bad (score 0), null for a number. Zendesk's
``Offered`` / ``Not Offered`` mean a survey sent and not answered: not a bad row, not a response
either — such rows keep a null ``score`` and the family leaves them out (counted at ``-v``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.loading import Source
    from kpi_cli.parsing import Check

SURVEYS = ("nps", "csat", "ces")
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
GOOD, BAD = ("good",), ("bad",)
UNANSWERED = ("offered", "not offered", "unoffered")  # Zendesk: a survey sent, no answer given
# A leading number, then nothing or a non-digit: "10 - Extremely likely" → 10; "7,5" is read as 7.5.
LEADING = r"^([+-]?\d+(?:[.,]\d*)?)(?:$|[^\d.,])"


def _word() -> pl.Expr:
    """The score as a lower-case word, for Good/Bad and the unanswered words."""
    import polars as pl

    return pl.col("score").str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")


def _number() -> pl.Expr:
    """The score's leading number (Float64), null when the text does not start with one."""
    import polars as pl

    lead = pl.col("score").str.strip_chars().str.extract(LEADING, 1)
    return lead.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def survey_rules(_src: Source, _cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """Transforms and checks of survey rows: the survey type, the score and its scale.

    Checks run on the typed values after the transforms, so they read the helper columns
    ``_num`` (leading number) and ``_word`` (score as a word) that the transforms add; helpers
    (names starting ``_``) are dropped from the good rows.
    """
    import polars as pl

    word, num = _word(), _number()
    survey = pl.col("survey").str.strip_chars().str.to_lowercase()
    is_csat = survey == "csat"
    binary = is_csat & word.is_in([*GOOD, *BAD])
    score = (pl.when(binary & word.is_in(GOOD)).then(1).when(binary).then(0)
             .when(num == num.round(0)).then(num.cast(pl.Int64)).otherwise(None))
    transforms = [
        survey.alias("survey"),
        score.cast(pl.Int64).alias("score"),
        pl.when(binary).then(pl.lit("binary")).otherwise(None).cast(pl.String).alias("csat_scale"),
        num.alias("_num"),
        word.alias("_word"),
    ]
    n, w, s = pl.col("_num"), pl.col("_word"), pl.col("survey")
    words = w.is_in([*GOOD, *BAD, *UNANSWERED])

    def outside(kind: str) -> pl.Expr:
        lo, hi = SCALES[kind]
        return (s == kind) & ((n < lo) | (n > hi))

    checks: list[Check] = [
        ("survey", ~s.is_in(SURVEYS), "survey not nps, csat or ces"),
        ("score", n.is_null() & ~words, "score is not a number"),
        ("score", n != n.round(0), "score is not a whole number"),
        ("score", outside("nps") | ((s == "nps") & words), "score outside the nps scale 0–10"),
        ("score", outside("csat"), "score outside the csat scale 1–5 (or Good/Bad)"),
        ("score", outside("ces") | ((s == "ces") & words), "score outside the ces scale 1–7"),
    ]
    return transforms, checks


RULES = {"surveys": (survey_rules, None)}
