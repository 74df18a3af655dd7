"""Donation service: the system of record for donors, gifts, receipts, projects and their use."""
