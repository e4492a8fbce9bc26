"""S2S-style lost-pupil store: CTF files kept as sent, an index of pupils, search."""
