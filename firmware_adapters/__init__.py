"""Device adapters: each turns one protocol into :class:`Sample` blocks.

Adapters are registered by name in :data:`firmware_adapters.registry.ADAPTERS`.
"""

from firmware_adapters.sample import Sample

__all__ = ["Sample"]
