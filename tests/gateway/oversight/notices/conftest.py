from tests.gateway.oversight.rig import gateway  # noqa: F401  (the suite's gateway key, not the flat tests' desk)
