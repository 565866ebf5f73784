"""An OpenID Connect provider for citizens: discovery, authorize (PKCE S256), token (private_key_jwt), userinfo."""
