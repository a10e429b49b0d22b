"""The lint rules, one module per family: initialization (MS1xx), activation and structure (MS2xx), training
(MS301–MS303), fitting (MS304–MS308), distribution (MS309–MS311) and pretrained weights (MS4xx). Each rule is a
``Rule`` constant named by its code; registry.py lists them."""
