"""Matching: find the child a referral is about, explain why, and let the officer decide."""
