"""Coordination between nodes: one leader for scheduled work."""
