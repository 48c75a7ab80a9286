"""SQL implementations of the repository contracts, one module per resource."""
