"""The back office: the pages that CB staff, organizations' users and the Secretariat sign in to."""
