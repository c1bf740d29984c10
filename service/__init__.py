"""The application layer: gRPC server, Python client and the ``warmstart`` CLI."""
