"""The OCI Distribution / Docker Registry V2 protocol layer."""
