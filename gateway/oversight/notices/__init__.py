"""Notices to people (SG-NOTIFY-1, SG-BREACH-1): every release of a person's data through the gateway, and every
breach that touches them, becomes a notice identity delivers in their language."""
