"""Grievances (SG-GRIEV-1/2/4): a ticket on any channel, published time limits, escalation to oversight when late."""
