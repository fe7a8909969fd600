"""The public certificate register: what anyone may read, without an account."""
