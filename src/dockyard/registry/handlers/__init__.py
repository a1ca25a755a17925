"""One module per registry resource; each handler parses, calls the service, responds."""
