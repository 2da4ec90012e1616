"""Problem statements of a valid task: from templates (``templates``), from a model (``by_model``), and who
writes them for a run (``writer``)."""
