"""The Flask console, public referral form, school upload and partner endpoint."""
