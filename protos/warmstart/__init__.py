"""Protocol packages of the warmstart gRPC API, by version."""
