"""The error codes of the bulk import: each problem of a file's row carries one of these.

A dry run reports every problem it finds, row by row (row, column, code, message); a commit
writes nothing while any remains. Tests, the report and the screen key on the code, never on
the message."""

#: The file cannot be read as CSV or XLSX (not text, a damaged workbook).
IMPORT_FILE_UNREADABLE = "import.file_unreadable"
#: The file has a header and no row, or nothing at all.
IMPORT_FILE_EMPTY = "import.file_empty"
#: The header lacks a column the import needs.
IMPORT_COLUMN_MISSING = "import.column_missing"
#: The header names a column the import does not know (a misspelling would lose its values).
IMPORT_COLUMN_UNKNOWN = "import.column_unknown"
#: A required value is empty.
IMPORT_VALUE_REQUIRED = "import.value_required"
#: A value is longer than the register keeps.
IMPORT_VALUE_TOO_LONG = "import.value_too_long"
#: A date is not written YYYY-MM-DD (or is not a date of the calendar).
IMPORT_DATE_INVALID = "import.date_invalid"
#: Dates that contradict each other or today (expiry before grant, a grant in the future).
IMPORT_DATE_ORDER = "import.date_order"
#: A country is not two letters of ISO 3166-1.
IMPORT_COUNTRY_INVALID = "import.country_invalid"
#: A yes/no column holds something else.
IMPORT_FLAG_INVALID = "import.flag_invalid"
#: No certification body has this code.
IMPORT_CB_UNKNOWN = "import.cb_unknown"
#: The row is of a certification body this import may not write for.
IMPORT_CB_NOT_ALLOWED = "import.cb_not_allowed"
#: The certificate number is not ``IECQ-<letter> <CB code> <YY>.<NNNN>``.
IMPORT_NUMBER_MALFORMED = "import.number_malformed"
#: The number names another CB, another scheme's letter, or a year that is not the grant's.
IMPORT_NUMBER_MISMATCH = "import.number_mismatch"
#: The number belongs to a certificate granted in apcert (not imported): never overwritten.
IMPORT_NUMBER_TAKEN = "import.number_taken"
#: The status is not one of the register's public statuses.
IMPORT_STATUS_UNKNOWN = "import.status_unknown"
#: The status reason is not one of the register's reason categories.
IMPORT_STATUS_REASON_UNKNOWN = "import.status_reason_unknown"
#: A corrected file asks for a status the certificate lifecycle does not reach from the
#: stored one (a withdrawn certificate made current again, say).
IMPORT_STATUS_NOT_REACHABLE = "import.status_not_reachable"
#: No programme has this code.
IMPORT_PROGRAMME_UNKNOWN = "import.programme_unknown"
#: The CB held no acceptance for the programme on the grant date.
IMPORT_PROGRAMME_NOT_ACCEPTED = "import.programme_not_accepted"
#: No process category has this code.
IMPORT_CATEGORY_UNKNOWN = "import.category_unknown"
#: The scope line's category is outside the CB's acceptance for the programme.
IMPORT_SCOPE_OUTSIDE_ACCEPTANCE = "import.scope_outside_acceptance"
#: The standards catalogue has no such designation and edition.
IMPORT_STANDARD_UNKNOWN = "import.standard_unknown"
#: The standard is in the catalogue but not accepted for use in IECQ.
IMPORT_STANDARD_NOT_ACCEPTED = "import.standard_not_accepted"
#: A certificate's column differs between two of its rows (one certificate, one value).
IMPORT_ROW_CONFLICT = "import.row_conflict"
#: The same process category at the same site twice for one certificate.
IMPORT_LINE_DUPLICATE = "import.line_duplicate"
#: The same registration number names two different holders in the file.
IMPORT_HOLDER_CONFLICT = "import.holder_conflict"
#: A corrected file gives another grant date: the grant date and the number it is part of
#: are the certificate's identity, never corrected by an import.
IMPORT_GRANT_DATE_FIXED = "import.grant_date_fixed"
#: The screen's confirmation of a file that is not (or no longer) waiting for it.
IMPORT_BATCH_NOT_CHECKED = "import.batch_not_checked"
#: The import screens are for the Secretariat and the CBs' scheme managers (and admins).
IMPORT_NOT_ALLOWED = "import.not_allowed"
