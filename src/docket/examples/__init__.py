"""Example data and models used by ``docket demo`` and the examples/ directory."""
