"""Reconciliation of a stream run, by record id: every record produced ends in exactly one place —
the destination prefix, filtered out by the destination query (the consumer's ledger says so), or the
error prefix (analytics errors, late records, producer rejects, transform failures) — and nowhere twice.

The evidence is independent per stage: the producer's ledger (what Kinesis accepted or the producer
rejected), the consumer's ledger (what the analytics decided), and the objects in S3 (what was delivered).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from producers.stream.kinesis import ProduceReport
from services.reconcile import ReconciliationError, StepReport
from streaming.outputs import Outputs

ERROR_OUTCOMES = frozenset({"error", "late"})


@dataclass
class Reconciliation:
    steps: list[StepReport] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    placement: Counter[str] = field(default_factory=Counter)
    error_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems and all(s.balanced for s in self.steps)

    def raise_for_problems(self) -> None:
        if not self.ok:
            raise ReconciliationError("stream reconciliation failed:\n  " + "\n  ".join(self.problems[:20]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [s.as_dict() for s in self.steps],
            "checks": self.checks,
            "problems": self.problems,
            "placement": dict(self.placement),
            "error_reasons": dict(self.error_reasons),
        }


def _examples(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")


def reconcile(
    produced: ProduceReport, ledger: dict[str, str] | None, outputs: Outputs, analytics_seconds: float = 0.0
) -> Reconciliation:
    """``ledger``: the consumer's outcome per record id (for the produced ids), or None when the analytics
    ran where no per-record ledger is kept (the Lambda host on AWS)."""
    rec = Reconciliation()
    expected = {p.record_id: p.expected for p in produced.puts}
    expected.update({r.record.record_id: r.record.expected for r in produced.rejected})
    put_ids = {p.record_id for p in produced.puts}
    if ledger is None:
        ledger = _ledger_from_outputs(put_ids, expected, outputs)
        rec.checks.append(
            "analytics on the Lambda host keeps no per-record ledger: decisions read from S3; a record "
            "absent from S3 counts as filtered only where the generator expected it filtered"
        )

    # Where each produced id ended, from S3 and the ledger.
    placement: dict[str, str] = {}
    for record_id in expected:
        places = []
        if outputs.destination[record_id]:
            places.append("destination")
        if outputs.errors[record_id] or outputs.processing_failed[record_id]:
            places.append("error")
        if ledger.get(record_id) == "filtered":
            places.append("filtered")
        if len(places) != 1:
            where = " and ".join(places) or "nowhere (not in S3, not filtered)"
            rec.problems.append(f"record {record_id}: found in {where}; expected exactly one place")
        placement[record_id] = places[0] if places else "missing"
        rec.placement[placement[record_id]] += 1
        if record_id in outputs.error_reasons:
            rec.error_reasons[outputs.error_reasons[record_id].split(":", 1)[0]] += 1
        elif outputs.processing_failed[record_id]:
            rec.error_reasons["processing_failed"] += 1

    dupes = sorted(i for i in expected if outputs.destination[i] > 1 or outputs.errors[i] > 1)
    if dupes:
        rec.problems.append(f"{len(dupes)} record ids written more than once in S3: {_examples(dupes)}")
    else:
        rec.checks.append(f"no record id twice in S3 ({len(expected):,} ids checked)")

    # The analytics' decision (ledger) agrees with what was delivered.
    disagree = [
        i
        for i in put_ids
        if ledger.get(i) is not None
        and ("error" if ledger[i] in ERROR_OUTCOMES else ledger[i]) != placement[i]
    ]
    unprocessed = sorted(i for i in put_ids if i not in ledger)
    if unprocessed:
        rec.problems.append(
            f"{len(unprocessed)} records in Kinesis never processed: {_examples(unprocessed)}"
        )
    if disagree:
        rec.problems.append(
            f"{len(disagree)} records delivered elsewhere than decided: {_examples(sorted(disagree))}"
        )
    # The generator knew what each record should become; a late record is the one allowed deviation.
    wrong = sorted(
        i
        for i, want in expected.items()
        if placement[i] != want and not (ledger.get(i) == "late" and placement[i] == "error")
    )
    if wrong:
        rec.problems.append(
            f"{len(wrong)} records did not end where the generator expected: {_examples(wrong)}"
        )
    else:
        rec.checks.append("every record ended where the generator expected (destination / filtered / error)")

    outcome_counts = Counter(ledger.get(i, "unprocessed") for i in put_ids)
    analytics = StepReport(
        "analytics (stream SQL)",
        rows_in=len(put_ids),
        rows_out=outcome_counts["destination"] + outcome_counts["filtered"],
        rows_rejected=outcome_counts["error"] + outcome_counts["late"],
        seconds=analytics_seconds,
        detail=dict(outcome_counts),
    )
    to_destination = sum(1 for i in put_ids if ledger.get(i) == "destination")
    in_destination = sum(1 for i in put_ids if ledger.get(i) == "destination" and outputs.destination[i])
    failed_destination = sum(
        1 for i in put_ids if ledger.get(i) == "destination" and outputs.processing_failed[i]
    )
    delivery = StepReport(
        "delivery destination → S3",
        rows_in=to_destination,
        rows_out=in_destination,
        rows_rejected=failed_destination,
    )
    end_to_end = StepReport(
        "end to end (by record id)",
        rows_in=len(expected),
        rows_out=rec.placement["destination"] + rec.placement["filtered"],
        rows_rejected=rec.placement["error"],
        detail={"placement": dict(rec.placement), "error_reasons": dict(rec.error_reasons)},
    )
    rec.steps = [produced.step(), analytics, delivery, end_to_end]
    for step in rec.steps:
        if not step.balanced:
            rec.problems.append(
                f"{step.step}: in {step.rows_in:,} != out {step.rows_out:,} + rejected {step.rows_rejected:,}"
            )
    rec.checks.append(
        f"produced {len(expected):,} = destination {rec.placement['destination']:,} + filtered "
        f"{rec.placement['filtered']:,} + errors {rec.placement['error']:,}"
    )
    return rec


def _ledger_from_outputs(put_ids: set[str], expected: dict[str, str], outputs: Outputs) -> dict[str, str]:
    """The analytics' decisions as S3 shows them. Filtered records leave no trace, so absence counts as
    filtered only where that was expected; any other absent record stays undecided ("never processed")."""
    ledger = {}
    for record_id in put_ids:
        if outputs.destination[record_id]:
            ledger[record_id] = "destination"
        elif outputs.errors[record_id] or outputs.processing_failed[record_id]:
            ledger[record_id] = "error"
        elif expected[record_id] == "filtered":
            ledger[record_id] = "filtered"
    return ledger


def check_windows(outputs: Outputs, accepted: int) -> tuple[bool, str]:
    """The final revisions of the run's window aggregates count exactly the records the analytics
    accepted (destination + filtered)."""
    counted = sum(w["count"] for w in outputs.final_windows().values())
    return (
        counted == accepted,
        f"window aggregates count {counted:,} records; analytics accepted {accepted:,}",
    )
