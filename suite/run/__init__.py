"""Layer 5: running sweeps — presets and expansion, the runner and its backends (processes, Ray), run identity and
code versions, locks, the record cache, saved models, seed blocks, up-front checks."""
