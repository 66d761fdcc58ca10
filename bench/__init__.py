"""The benchmark harness behind ``scripts/bench``: tiffin against a baseline and a ceiling."""
