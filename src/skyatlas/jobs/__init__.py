"""Asynchronous work: the `jobs` queue and the workers that drain it."""
