"""API resources, one module each (each exports `router`)."""
