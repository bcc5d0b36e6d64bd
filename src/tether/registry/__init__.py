"""Container registries: Tether's login servers in front of CNCF Distribution processes (decision 0020)."""
