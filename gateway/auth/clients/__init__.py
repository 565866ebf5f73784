"""The client registry: the organisations that may call the gateway, their keys, roles, purposes and status."""
