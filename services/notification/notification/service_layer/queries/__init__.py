"""The read side: what the routes answer, read from the database in the wire shapes of the API."""
