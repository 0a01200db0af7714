"""Recipes: one file each, a loss called with the networks (STYLE.md 3)."""
