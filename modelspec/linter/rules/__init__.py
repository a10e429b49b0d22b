"""The lint rules, one module per family: initialization (MS1xx), activation and structure (MS201–MS204), design
(MS205–MS208), training (MS301–MS303), fitting (MS304–MS308), distribution (MS309–MS311), pretrained weights (MS4xx)
and export readiness (MS5xx, on for the export formats asked for). Each rule is a ``Rule`` constant named by its
code; registry.py lists them."""
