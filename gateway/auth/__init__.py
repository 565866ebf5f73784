"""Who may call the gateway: the client registry, tokens, DPoP, citizens' OIDC tokens and rate limits."""
