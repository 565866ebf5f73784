"""The person's rights on every channel (SG-INCL-3): an assisted operator's desk and a text-only (USSD/SMS) menu."""
