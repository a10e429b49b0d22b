"""The lint rules, one module per family: initialization (MS1xx), activation and structure (MS2xx), training
(MS3xx). Each rule is a ``Rule`` constant named by its code; registry.py lists them."""
