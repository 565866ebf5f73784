"""OAuth 2.0 client credentials with private_key_jwt, and the gateway's access tokens."""
