"""The hop's wire format, shared by both sides: the protocol, ``.npy`` bytes, batch rows, the deadline."""
