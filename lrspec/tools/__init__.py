"""The tools built on the pipeline: the command line (:mod:`lrspec.tools.cli`), plan tables
(:mod:`lrspec.tools.explain`), plots (:mod:`lrspec.tools.plotting`), cross-target checks
(:mod:`lrspec.tools.verify`), code emission (:mod:`lrspec.tools.emit`), model sources
(:mod:`lrspec.tools.model_sources`) and parameter lists (:mod:`lrspec.tools.paramfile`)."""
