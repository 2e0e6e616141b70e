"""cancelbot: walks a support agent through an Amazon order-cancellation ticket."""

__version__ = "0.1.0"
