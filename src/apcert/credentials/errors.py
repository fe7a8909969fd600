"""The error codes of signing keys and signed certificates.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

CB_UNKNOWN = "cb.unknown"
CERTIFICATE_UNKNOWN = "certificate.unknown"
KEY_ALREADY_COMPROMISED = "key.already_compromised"
KEY_DIR_UNWRITABLE = "key.dir_unwritable"
KEY_FILE_MISSING = "key.file_missing"
KEY_FILE_UNREADABLE = "key.file_unreadable"
KEY_NONE = "key.none"
KEY_UNKNOWN = "key.unknown"
RECEIPT_BEFORE_FIRST_ISSUE = "receipt.before_first_issue"
STATUS_LIST_UNKNOWN = "status_list.unknown"
