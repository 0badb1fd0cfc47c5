"""Storage: the registry store interface, its SQL implementation and an in-memory fake."""

from docket.store._engine import make_engine
from docket.store.registry import (
    InMemoryRegistry,
    RegistryStore,
    SqlRegistry,
    TransitionRecord,
)

__all__ = ["InMemoryRegistry", "RegistryStore", "SqlRegistry", "TransitionRecord", "make_engine"]
