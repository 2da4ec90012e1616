"""The catalog inverter: candidates from fault operators aimed at what the gold probe found, no model needed."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators import OPERATORS, FaultOperator, Target
from cligym.generation.task_record import Candidate


def catalog_candidate(gold: GoldRecord, operator: FaultOperator, target: Target, seed: int) -> Candidate:
    """One candidate: the operator's break steps for ``target`` with parameters drawn from ``seed``."""
    rng = random.Random(f"{gold.name}:{operator.name}:{target.label()}:{seed}")
    return Candidate(
        repo=gold.name,
        category=operator.category,
        inverter=f"catalog:{operator.name}",
        target=target,
        seed=seed,
        description=f"{operator.description}: {target.label()}",
        break_steps=operator.break_steps(target, rng),
        repair_commands=operator.repair_commands(target),
    )


def all_catalog_candidates(gold: GoldRecord, seed: int = 0) -> list[Candidate]:
    """Every operator on every target it finds, one parameter draw each."""
    return [
        catalog_candidate(gold, operator, target, seed)
        for operator in OPERATORS.values()
        for target in operator.targets(gold)
    ]
