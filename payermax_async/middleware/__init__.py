"""Middlewares that make up the client's request chain (see ``PayerMaxClient`` for their order)."""
