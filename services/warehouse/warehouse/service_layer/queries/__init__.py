"""The warehouse API's read side: each area's queries answer with the body a route returns."""
