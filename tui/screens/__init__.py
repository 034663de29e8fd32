"""Modal screens: confirmations, forms and help."""
