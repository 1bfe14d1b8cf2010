"""HTTP surfaces: the SpaceONE verb dialect, its OpenAPI document and docs."""
