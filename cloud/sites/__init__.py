"""Relational domain of the hub: registry of sites/assets/sensors/edges, teams and challenges."""
