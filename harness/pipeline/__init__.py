"""The judging pipeline: the run record, the one verdict, the run context, the two orchestrators
(:mod:`~harness.pipeline.judge` for a target, :mod:`~harness.pipeline.gate` for a wheel), and the release
verdict over the gate reports of a whole build matrix (:mod:`~harness.pipeline.release`)."""
