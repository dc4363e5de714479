"""The four streamstash services; each ``app.py`` only wires, the logic lives beside it."""
