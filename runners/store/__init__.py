"""The local model store: stored models, tags, and the ``models`` commands."""
