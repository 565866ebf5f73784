"""Breach incidents (SG-BREACH-1): recorded by oversight, notified to every affected person within a deadline, with
their VIDs and offline credentials reissued, in the audit log and the public statistics."""
