"""Lab packs and the runner that composes simulators, edge agents and the hub."""
