"""External signal connectors and pure transforms returning polars frames (issue 3). Imports nothing from this project."""
