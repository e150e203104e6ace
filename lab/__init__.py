"""cors-lab: what real browsers do with a Flask API's CORS configuration."""

__version__ = "0.1.0"
