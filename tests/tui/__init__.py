"""Tests of the terminal UI (tui/) and its demo."""
