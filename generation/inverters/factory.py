"""The inverter a run names (``--inverter``), built from the run's settings: the catalog of fault operators,
or a model with a shell."""

from __future__ import annotations

from enum import StrEnum

from cligym.errors import CligymError
from cligym.generation.duplicates import every_test_cap
from cligym.generation.inverters.agent import AgentInverter
from cligym.generation.inverters.base import Inverter
from cligym.generation.inverters.catalog import CatalogInverter
from cligym.generation.operators import Category
from cligym.generation.statements.writer import StatementSource
from cligym.llm import ChatClient
from cligym.settings import Settings


class InverterName(StrEnum):
    CATALOG = "catalog"
    AGENT = "agent"


def make_inverter(
    name: InverterName,
    seed: int,
    operators: list[str] | None,
    categories: list[str] | None,
    combine: float,
    settings: Settings,
    client: ChatClient | None = None,
    run_id: str | None = None,
    tasks_wanted: int = 10,
) -> Inverter:
    """The inverter ``name`` names; the agent inverter takes its categories from the caller too."""
    if name is InverterName.AGENT:
        if client is None:
            raise CligymError("the agent inverter needs a model", "set model.base_url and model.model")
        if operators:
            raise CligymError("--operators only applies to --inverter catalog", "drop --operators")
        agent_settings = settings.agent_inverter
        if categories:
            agent_settings = agent_settings.model_copy(update={"categories": categories})
        agent_settings = agent_settings.model_copy(update={"seed": seed})
        return AgentInverter(client, agent_settings, settings.sandbox, run_id=run_id)
    known = {str(category) for category in Category}
    unknown = sorted(set(categories or []) - known)
    if unknown:
        raise CligymError(f"unknown categories: {', '.join(unknown)}", f"choose from {', '.join(sorted(known))}")
    generation = settings.generation
    try:
        return CatalogInverter(
            seed=seed,
            operators=operators,
            categories=categories,
            combination_share=combine,
            max_per_failing_set=generation.max_tasks_per_failing_set,
            max_failing_every_test=every_test_cap(generation.max_share_failing_every_test, tasks_wanted),
        )
    except ValueError as exc:
        raise CligymError(str(exc)) from None


def generation_client(settings: Settings, inverter: InverterName, statements: StatementSource) -> ChatClient | None:
    """The client the agent inverter and model statements share, checked reachable, when either needs one."""
    needed = inverter is InverterName.AGENT or statements is StatementSource.MODEL
    if not needed and (statements is StatementSource.TEMPLATE or not settings.model.model):
        return None
    client = ChatClient.from_settings(settings.model)
    client.check_available()
    return client
