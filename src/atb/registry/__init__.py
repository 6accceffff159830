"""The model registry: version folders that appear only complete, and an atomic `latest` link."""
