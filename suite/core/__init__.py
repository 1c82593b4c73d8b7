"""Layer 0: plain configuration (RunConfig and its parts), option validation, families of the zoo, item rows,
atomic files. No torch."""
