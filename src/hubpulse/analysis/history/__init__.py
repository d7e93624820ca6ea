"""History: evidence, the monthly estimator and deconvolution, group figures and questions over
time. May import ``analysis.snapshot``, ``store``, ``ingest`` and the base modules."""
