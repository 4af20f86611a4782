"""TeachFab edge agent: features, online models and store-and-forward publishing."""
