echo demo: not yet
