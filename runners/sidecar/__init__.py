"""The runner sidecar: the model host, adaptive batching, and the servers that carry its calls."""
