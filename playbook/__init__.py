"""The playbook: scenarios that walk the DPI Playbook's plays through the sandbox, narrated, with a report."""
