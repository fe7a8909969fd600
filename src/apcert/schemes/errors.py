"""The error codes of the schemes and their reference data.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

REFERENCE_BAD_DATE = "reference.bad_date"
REFERENCE_BAD_STANDARD_REF = "reference.bad_standard_ref"
REFERENCE_BAD_VALUE = "reference.bad_value"
REFERENCE_FILE_MISSING = "reference.file_missing"
REFERENCE_INVALID_FILE = "reference.invalid_file"
REFERENCE_MISSING_KEY = "reference.missing_key"
REFERENCE_UNKNOWN_CATEGORY = "reference.unknown_category"
REFERENCE_UNKNOWN_SCHEME = "reference.unknown_scheme"
REFERENCE_UNKNOWN_STANDARD = "reference.unknown_standard"
SCHEME_NO_RULES = "scheme.no_rules"
SCHEME_RULES_MISSING = "scheme.rules_missing"
SCHEME_UNKNOWN = "scheme.unknown"
STANDARD_NOT_ACCEPTED = "standard.not_accepted"
STANDARD_SUPERSEDED = "standard.superseded"
STANDARD_UNKNOWN = "standard.unknown"
STANDARD_WITHDRAWN = "standard.withdrawn"
