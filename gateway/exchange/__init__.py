"""The secure inter-authority exchange: keys, partners, S/MIME envelope, transports."""
