"""The SLO model, the readers of native, Sloth and OpenSLO definitions, and validation."""
