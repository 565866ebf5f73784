"""The scopes a client may hold: one per area behind the gateway. A route declares the scope it needs; a token
carries the scopes granted at issue (those the client still holds), and a missing one is 403 SG-SEC-1."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "identity": "Verify people, eKYC and identity operations (as the caller's roles allow).",
    "payments": "Accounts, transfers and disbursements.",
    "consent": "Consent requests and artefacts.",
    "exchange": "Data exchange between members.",
    "audit": "Read the audit log and its proofs.",
    "governance": "Governance: rules, purposes, relying parties, the dry run.",
    "clients": "Read and manage the client registry.",
}
