"""The bitemporal object store shared by Klassifikation and Organisation (docs/bitemporal.md)."""
