"""The case store and the CME workflow: referrals in, cases through the process."""
