"""Simulated assets with scripted faults, served over real protocols."""
