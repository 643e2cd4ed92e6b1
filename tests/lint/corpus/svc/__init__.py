"""A service with stores as classes: attributes, inheritance, properties, globals."""
