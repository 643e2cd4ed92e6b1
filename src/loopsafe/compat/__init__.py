"""Drop-in faces of loopsafe for code written against other libraries (``aiosqlite``)."""
