"""Example data and models used by ``ordinance demo`` and the examples/ directory."""
