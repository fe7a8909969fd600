"""The error codes of the public register.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

SEARCH_INVALID = "search.invalid"
