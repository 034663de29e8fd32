"""The demo: a SIMULATED codex (no model, no network) playing realistic jobs through the
real job store and runner, so `codex-tui --demo` shows the app working anywhere."""
