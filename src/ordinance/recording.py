"""Recording a policy evaluation: its index row and its log entry (a SLSA VSA), together.

Takes the collaborators it writes through (the signing log, the registry, the database),
never the workspace; ``ordinance check``, the promotion pipeline, the server and the demo
call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ordinance.store.transaction import write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ordinance.log import TransparencyLog
    from ordinance.policy import Evaluation
    from ordinance.store.registry import SqlRegistry

__all__ = ["record_evaluation"]


def record_evaluation(
    evaluation: Evaluation, *, log: TransparencyLog, registry: SqlRegistry, engine: Engine
) -> int:
    """Store a policy evaluation and log it as a SLSA VSA; returns its log index."""
    from ordinance import records
    from ordinance.ledger import evaluation_binding

    version = evaluation.version
    result = evaluation.to_dict()
    digests = {p["name"]: p["sha256"] for p in result.get("policies", [])}
    stmt = records.Evaluation.of(evaluation).to_statement()
    # what the evaluation row holds, bound into the VSA, so the row is a cache of the log
    stmt["predicate"]["ordinanceEvaluation"] = evaluation_binding(
        evaluation.stage, result["verdict"], digests, result
    )
    # the evaluation row and its log entry (a VSA) commit together or not at all
    with write_transaction(engine, "recording the evaluation") as conn:
        index = log.append_statements_in(conn, [stmt])[0]
        registry.add_evaluation(
            version,
            evaluation.stage,
            result["verdict"],
            evaluation.evaluated_at,
            digests,
            result,
            index,
            conn=conn,
        )
    return index
