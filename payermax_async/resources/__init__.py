"""The client's resource namespaces (``client.payouts``)."""
