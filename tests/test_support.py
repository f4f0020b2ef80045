"""The support family (SPEC §3.4, ticket half) on a hand-computed example, through the CLI.

The example is ``tests/fixtures/support/example`` (UTC, monthly, ``--as-of 2024-04-05``):

====  ================  =======  ===============  ============  ===========  =============  =======
id    created           account  tags             via           answered     resolved       reopens
====  ================  =======  ===============  ============  ===========  =============  =======
T1    03-01 09:00       A        billing          email         +0 h         +3 h           0
T2    03-02 10:00       (Bob@B)  Billing;bug      web           +2 h         +24 h          1
T3    03-05 00:00       B        bug              email         +5 h         +48 h          0
T4    03-10 08:00       (nobody) —                web           +8 h         never          blank
T5    03-20 00:00       C        billing, refund  email         never        never          0
T6    03-28 00:00       —        refund           chat          04-08 (late) 04-09 (late)   0
T7    03-15 00:00       A        billing          email         agent-created (is_agent_created)
T8    03-16 00:00       B        billing          Outbound      agent-created ([tickets] outbound)
T9    02-25 00:00       A        —                web           +1 h         03-02 00:00    2
====  ================  =======  ===============  ============  ===========  =============  =======

"late" = after ``--as-of`` 2024-04-05, so not yet answered / resolved. Customers A (smb, alice@a.com),
B (ent, bob@b.com), C (smb); each pays from before March. Events: u1–u4 active in March.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import Result

from tests.conftest import write_csv

EXAMPLE = Path(__file__).parent / "fixtures" / "support" / "example"
TICKET_METRICS = ("tickets,first_response_time,first_response_time_p90,first_response_rate,unanswered_tickets,"
                  "resolution_time,reopen_rate")
AS_OF = ("--as-of", "2024-04-05")
Run = Callable[..., Result]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example folder (its kpi.toml holds ``[tickets] outbound = ["outbound"]``)."""
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder)
    return folder


def rows(result: Result) -> pl.DataFrame:
    """The JSON rows of a successful ``kpi compute -f json``."""
    assert result.exit_code == 0, result.stderr
    return pl.DataFrame(json.loads(result.stdout), infer_schema_length=None)


def compute(run: Run, folder: Path, metrics: str, *args: str) -> pl.DataFrame:
    """``kpi compute METRICS`` on ``folder`` with its kpi.toml, as JSON rows."""
    return rows(run("compute", metrics, "--data", folder, "--config", folder / "kpi.toml", *AS_OF, "-f", "json",
                    *args))


def expected(records: list[tuple], by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows ``(metric, period, *by, value, numerator, denominator, complete)`` as the JSON output reads."""
    cols = ["metric", "period", *by, "value", "numerator", "denominator", "complete"]
    schema = dict.fromkeys(("metric", "period", *by), pl.String) | {
        "value": pl.Float64, "numerator": pl.Float64, "denominator": pl.Float64, "complete": pl.Boolean}
    return pl.DataFrame(records, schema=schema, orient="row").select(cols)


def floats(frame: pl.DataFrame) -> pl.DataFrame:
    """JSON integers (a count of 6 prints as 6.0, but a null column infers as null) cast to floats."""
    return frame.with_columns(pl.col("value", "numerator", "denominator").cast(pl.Float64))


def test_hand_computed_example(run: Run, example: Path) -> None:
    """Every ticket metric for February–April 2024.

    Kept tickets (T7, T8 are agent-created): February T9; March T1–T6.
    March: 6 created. Answered by --as-of: T1 0 h, T2 2 h, T3 5 h, T4 8 h (T5 never, T6 on 04-08 is
    after 04-05) → rate 4/6, unanswered 2. Median of the even count [0, 2, 5, 8] = (2 + 5)/2 = 3.5;
    p90: rank 0.9 × (4 − 1) = 2.7 → 5 + 0.7 × (8 − 5) = 7.1. Resolution, created in March and
    resolved by --as-of: T1 3 h, T2 24 h, T3 48 h → median 24 (T6's 04-09 is late). Reopen rate,
    resolved in March: T9 (03-02, 2 reopens), T1 (0), T2 (1), T3 (0) → 2/4 (T7 and T8 left out).
    Medians have no numerator or denominator (SPEC §4.1: those are a ratio's parts).
    February: T9 answered after 1 h; resolved 03-02 00:00, 6 days (2024 is a leap year: 25 → 29 Feb
    is 4 days, + 2) = 144 h; nothing resolved in February → reopen rate null (0/0).
    April: no ticket created; T6 is resolved on 04-09, after --as-of, but April is computed as if its
    data were complete (SPEC §2): resolved in April 1, reopened 0 → 0/1. Incomplete (it ends after
    --as-of).
    """
    got = floats(compute(run, example, TICKET_METRICS, "--from", "2024-02", "--to", "2024-04"))
    feb, mar, apr = "2024-02-01", "2024-03-01", "2024-04-01"
    want = expected([
        ("tickets", feb, 1, None, None, True), ("tickets", mar, 6, None, None, True),
        ("tickets", apr, 0, None, None, False),
        ("first_response_time", feb, 1.0, None, None, True), ("first_response_time", mar, 3.5, None, None, True),
        ("first_response_time", apr, None, None, None, False),
        ("first_response_time_p90", feb, 1.0, None, None, True),
        ("first_response_time_p90", mar, 7.1, None, None, True),
        ("first_response_time_p90", apr, None, None, None, False),
        ("first_response_rate", feb, 1.0, 1, 1, True), ("first_response_rate", mar, 4 / 6, 4, 6, True),
        ("first_response_rate", apr, None, 0, 0, False),
        ("unanswered_tickets", feb, 0, None, None, True), ("unanswered_tickets", mar, 2, None, None, True),
        ("unanswered_tickets", apr, 0, None, None, False),
        ("resolution_time", feb, 144.0, None, None, True), ("resolution_time", mar, 24.0, None, None, True),
        ("resolution_time", apr, None, None, None, False),
        ("reopen_rate", feb, None, 0, 0, True), ("reopen_rate", mar, 0.5, 2, 4, True),
        ("reopen_rate", apr, 0.0, 0, 1, False),
    ])
    assert_frame_equal(got, want)


def test_later_as_of_answers_and_resolves_t6(run: Run, example: Path) -> None:
    """With --as-of 2024-05-01 T6 is answered (04-08 − 03-28 = 11 days = 264 h) and resolved
    (12 days = 288 h): March answered [0, 2, 5, 8, 264] → median 5; resolved [3, 24, 48, 288] →
    (24 + 48)/2 = 36; unanswered 1 (T5); T6 is resolved in April with 0 reopens → April 0/1. April
    stays incomplete: the tickets' last instant (T6 resolved 04-09) is before its end (SPEC §2)."""
    got = floats(rows(run("compute", "first_response_time,unanswered_tickets,resolution_time,reopen_rate",
                          "--data", example, "--config", example / "kpi.toml", "--as-of", "2024-05-01",
                          "--from", "2024-03", "--to", "2024-04", "-f", "json")))
    mar, apr = "2024-03-01", "2024-04-01"
    want = expected([
        ("first_response_time", mar, 5.0, None, None, True), ("first_response_time", apr, None, None, None, False),
        ("unanswered_tickets", mar, 1, None, None, True), ("unanswered_tickets", apr, 0, None, None, False),
        ("resolution_time", mar, 36.0, None, None, True), ("resolution_time", apr, None, None, None, False),
        ("reopen_rate", mar, 0.5, 2, 4, True), ("reopen_rate", apr, 0.0, 0, 1, False),
    ])
    assert_frame_equal(got, want)


def test_response_at_the_as_of_instant_counts(run: Run, tmp_path: Path) -> None:
    """--as-of 2024-03-02 is 2024-03-02T00:00Z: a response at that very instant is "by --as-of"
    (answered after 24 h), one a second later is not."""
    header = ["ticket_id", "created_at", "first_response_at"]
    write_csv(tmp_path / "d" / "tickets.csv", header, [["a", "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"],
                                                       ["b", "2024-03-01T00:00:00Z", "2024-03-02T00:00:01Z"]])
    got = floats(rows(run("compute", "first_response_time,first_response_rate", "--data", tmp_path / "d",
                          "--month", "2024-03", "--as-of", "2024-03-02", "-f", "json")))
    want = expected([("first_response_time", "2024-03-01", 24.0, None, None, False),
                     ("first_response_rate", "2024-03-01", 0.5, 1, 2, False)])
    assert_frame_equal(got, want)


def test_tickets_per_user_and_per_customer(run: Run, example: Path) -> None:
    """March: 6 tickets / 4 active users (u1–u4) = 1.5; / 3 paying customers (A, B, C) = 2."""
    got = compute(run, example, "tickets_per_user,tickets_per_customer", "--month", "2024-03")
    assert got.select("metric", "value", "numerator", "denominator").rows() == [
        ("tickets_per_user", 1.5, 6, 4), ("tickets_per_customer", 2.0, 6, 3)]


@pytest.mark.parametrize("tag", ["billing", "BILLING", " Billing "])
def test_tag_keeps_tagged_tickets_only(run: Run, example: Path, tag: str) -> None:
    """--tag billing (any case): T1 "billing", T2 "Billing;bug", T5 "billing, refund" (T7 and T8 are
    tagged billing but agent-created). tickets 3; per user 3/4; answered T1 0 h, T2 2 h → median 1,
    p90 0 + 0.9 × 2 = 1.8; rate 2/3; unanswered 1 (T5); resolution [3, 24] → 13.5; resolved in March
    T1 (0 reopens), T2 (1) → 1/2 (T9 is untagged)."""
    got = compute(run, example, "tickets,tickets_per_user,first_response_time,first_response_time_p90,"
                  "first_response_rate,unanswered_tickets,resolution_time,reopen_rate", "--month", "2024-03",
                  "--tag", tag)
    values = dict(zip(got["metric"], got["value"], strict=True))
    assert values == pytest.approx({"tickets": 3, "tickets_per_user": 0.75, "first_response_time": 1.0,
                                    "first_response_time_p90": 1.8, "first_response_rate": 2 / 3,
                                    "unanswered_tickets": 1, "resolution_time": 13.5, "reopen_rate": 0.5})


def test_tag_list_keeps_either_tag(run: Run, example: Path) -> None:
    """--tag bug,refund: T2, T3 (bug), T5, T6 (refund) → 4 March tickets."""
    got = compute(run, example, "tickets", "--month", "2024-03", "--tag", "bug,refund")
    assert got["value"].to_list() == [4]


def test_by_tag_counts_a_ticket_in_each_of_its_tags(run: Run, example: Path) -> None:
    """March: billing T1, T2, T5 = 3; bug T2, T3 = 2; refund T5, T6 = 2; no tag T4 = 1 (sum 8 > 6)."""
    got = floats(compute(run, example, "tickets", "--month", "2024-03", "--by", "tag"))
    mar = "2024-03-01"
    want = expected([("tickets", mar, "billing", 3, None, None, True), ("tickets", mar, "bug", 2, None, None, True),
                     ("tickets", mar, "refund", 2, None, None, True), ("tickets", mar, None, 1, None, None, True)],
                    by=("tag",))
    assert_frame_equal(got, want)


def test_by_ticket_column(run: Run, example: Path) -> None:
    """--by via, March: chat T6 = 1; email T1, T3, T5 = 3; web T2, T4 = 2. Answered: chat 0/1,
    email T1, T3 → 2/3, web T2, T4 → 2/2."""
    got = compute(run, example, "tickets,first_response_rate", "--month", "2024-03", "--by", "via")
    assert got.select("metric", "via", "value").rows() == [
        ("tickets", "chat", 1), ("tickets", "email", 3), ("tickets", "web", 2),
        ("first_response_rate", "chat", 0.0), ("first_response_rate", "email", pytest.approx(2 / 3)),
        ("first_response_rate", "web", 1.0)]


def test_by_customer_column_through_the_account_join(run: Run, example: Path) -> None:
    """--by segment, March: T1 → A (smb), T2 → Bob@B.com → bob@b.com → B (ent), T3 → B (ent),
    T5 → C (smb); T4 (nobody@x.com) and T6 join no account: the blank group. smb 2, ent 2, blank 2
    (sum 6). Per customer: smb 2 / 2 (A, C) = 1, ent 2 / 1 (B) = 2, blank: no customers → null."""
    got = compute(run, example, "tickets,tickets_per_customer", "--month", "2024-03", "--by", "segment")
    assert got.select("metric", "segment", "value", "numerator", "denominator").rows() == [
        ("tickets", "ent", 2, None, None), ("tickets", "smb", 2, None, None), ("tickets", None, 2, None, None),
        ("tickets_per_customer", "ent", 2.0, 2, 1), ("tickets_per_customer", "smb", 1.0, 2, 2),
        ("tickets_per_customer", None, None, 2, None)]


def test_verbose_counts_agent_created_and_unmatched(run: Run, example: Path) -> None:
    """-v: 2 agent-created tickets (T7, T8) left out; unmatched_tickets = 2 (T4, T6)."""
    result = run("compute", "tickets", "--data", example, "--config", example / "kpi.toml", "--month", "2024-03",
                 *AS_OF, "-f", "csv", "-v")
    assert result.exit_code == 0, result.stderr
    assert "2 agent-created tickets left out" in result.stderr
    assert "unmatched_tickets = 2" in result.stderr


def test_without_outbound_config_only_is_agent_created_is_left_out(run: Run, example: Path) -> None:
    """No [tickets] outbound: T8 (via Outbound) is support demand again → March 7 tickets."""
    (example / "kpi.toml").write_text("")
    got = compute(run, example, "tickets", "--month", "2024-03")
    assert got["value"].to_list() == [7]


def test_email_joins_through_events_when_customers_have_no_email(run: Run, tmp_path: Path) -> None:
    """customers without an email column: requester_email → events email (lower-cased) → account.
    x@y.com was seen with account K1 first (02-01) and K2 later: K1 (segment gold). Z@Q.com → K2
    (silver). nobody@n.com is unmatched. --by segment: gold 1, silver 1, blank 1; -v: unmatched 1."""
    folder = tmp_path / "d"
    write_csv(folder / "tickets.csv", ["ticket_id", "created_at", "requester_email"],
              [["t1", "2024-03-01", "X@y.com"], ["t2", "2024-03-02", "z@q.com"], ["t3", "2024-03-03", "nobody@n.com"]])
    write_csv(folder / "customers.csv", ["customer_id", "segment"], [["K1", "gold"], ["K2", "silver"]])
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "account_id", "email"],
              [["2024-02-02", "x", "u1", "K2", "x@y.com"], ["2024-02-01", "x", "u1", "K1", "x@y.com"],
               ["2024-02-01", "x", "u2", "K2", "Z@Q.com"]])
    result = run("compute", "tickets", "--data", folder, "--month", "2024-03", "--as-of", "2024-04-05",
                 "--by", "segment", "-f", "json", "-v")
    got = rows(result)
    assert got.select("segment", "value").rows() == [("gold", 1), ("silver", 1), (None, 1)]
    assert "unmatched_tickets = 1" in result.stderr


def test_timezone_decides_the_period(run: Run, tmp_path: Path) -> None:
    """2024-03-31T23:30Z is 01:30 on 1 April in Berlin (CEST, UTC+2): March in UTC, April in Berlin."""
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at"], [["a", "2024-03-31T23:30:00Z"]])
    args = ("compute", "tickets", "--data", tmp_path / "d", "--from", "2024-03", "--to", "2024-04",
            "--as-of", "2024-06-01", "-f", "json")
    assert rows(run(*args))["value"].to_list() == [1, 0]
    assert rows(run(*args, "--tz", "Europe/Berlin"))["value"].to_list() == [0, 1]


def test_tickets_per_user_by_segment_joins_both_families(run: Run, example: Path) -> None:
    """--by segment, March: tickets ent 2 (T2, T3), smb 2 (T1, T5), blank 2; active users by their
    events' account: ent u2, u3 (B) = 2, smb u1 (A), u4 (C) = 2 → 1.0 and 1.0; the blank group has
    no active users → null."""
    got = compute(run, example, "tickets_per_user", "--month", "2024-03", "--by", "segment")
    assert got.select("segment", "value", "numerator", "denominator").rows() == [
        ("ent", 1.0, 2, 2), ("smb", 1.0, 2, 2), (None, None, 2, None)]


def test_by_a_dimension_the_other_family_lacks_is_refused(run: Run, example: Path) -> None:
    """Revenue has no tags: tickets_per_customer --by tag is a usage error, not a silent blank split."""
    result = run("compute", "tickets_per_customer", "--data", example, "--config", example / "kpi.toml",
                 "--month", "2024-03", *AS_OF, "--by", "tag")
    assert result.exit_code == 2
    assert "--by tag" in result.stderr
