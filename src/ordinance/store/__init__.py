"""Storage: the registry store interface, its SQL implementation and an in-memory fake."""

from ordinance.store._engine import make_engine
from ordinance.store.memory import InMemoryRegistry
from ordinance.store.registry import (
    RegistryStore,
    SqlRegistry,
    TransitionRecord,
)

__all__ = ["InMemoryRegistry", "RegistryStore", "SqlRegistry", "TransitionRecord", "make_engine"]
