"""The commands that compose TeachFab's parts: ``teachfab`` (CLI), the demo, ``lab up``, lab-session processes.

This package sits on top of every other one (DESIGN.md, "Layering"): it may
import them all, and nothing imports it. Commands load the parts they need
when they run, so ``teachfab edge ...`` works in an edge-only install.
"""
