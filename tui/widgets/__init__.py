"""Widgets, grouped by area of the screen."""
