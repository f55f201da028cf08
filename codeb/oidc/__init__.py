"""The tenant's OpenID Provider (DESIGN: oidc): keys, clients, grants, endpoints."""
