"""Inventory: cloud services, their types and regions; the upsert and reconcile of collections."""
