"""The text-only channel: a USSD menu, as USSD aggregators call it, for people with a basic phone (SG-INCL-3)."""
