"""eKYC: attribute release to a relying party, only for a purpose that allows it and only what was consented."""
