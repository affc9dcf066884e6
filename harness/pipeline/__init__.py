"""The judging pipeline: the run record, the one verdict, the run context, and the two orchestrators
(:mod:`~harness.pipeline.judge` for a target, :mod:`~harness.pipeline.gate` for a wheel)."""
