"""The warmstart.v1 protocol: generated message and service code."""
