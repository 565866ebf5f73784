"""What people and oversight bodies use at the gateway: grievances, public statistics, breach incidents."""
