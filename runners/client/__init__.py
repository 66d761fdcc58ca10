"""The API worker's side of the hop: the runner client, coalescing, balancing, pooled connections."""
