"""Authentication of people: yes/no by OTP, PIN, simulated biometric, offline QR or assisted; predicates."""
