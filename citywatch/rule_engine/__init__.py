"""Plan rules: the YAML model, loading with positioned errors, and pure evaluation."""
