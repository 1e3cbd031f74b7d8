"""The SLO model, the readers of native, Sloth, OpenSLO and Pyrra definitions, and validation."""
