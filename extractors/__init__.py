"""Partner engagement pipeline: extract partner systems, land, load into DuckDB, publish marts."""

__version__ = "0.1.0"
